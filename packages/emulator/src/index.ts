export { startEmulator, type Emulator, type EmulatorOptions } from "./server.js";
export type { DownloadFault, Fault, FaultKind, FaultScope, GenerationFault } from "./faults.js";
export type { RecordedRequest } from "./http.js";
export { SIZE_PIXELS, type ImageSize, type PromptObject } from "./render.js";
