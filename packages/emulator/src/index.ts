export { startEmulator, type Emulator, type EmulatorOptions } from "./server.js";
export type { DownloadFault, EmulatedApi, Fault, FaultKind, FaultScope, GenerationFault } from "./faults.js";
export { GEMINI_IMAGE_MODELS, geminiPixels, type GeminiImageModel } from "./google-models.js";
export { OPENAI_IMAGE_MODELS, type OpenAiImageModel } from "./openai-validate.js";
export type { RecordedRequest } from "./http.js";
export { SIZE_PIXELS, type ImageSize, type PromptObject } from "./render.js";
