import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { FAKE_GOOGLE_API_KEY, FAKE_OPENAI_API_KEY } from "./fixture-project.js";

/** The two AI SDK provider packages the tests run for real against the emulator. */
export type AiSdkApi = "google" | "openai";

export const AI_SDK = {
  google: {
    package: "@ai-sdk/google",
    create: "createGoogleGenerativeAI",
    keyVariable: "GOOGLE_GENERATIVE_AI_API_KEY",
    key: FAKE_GOOGLE_API_KEY,
    basePath: "/v1beta",
    modelId: "gemini-3-pro-image",
    requestPath: "/v1beta/models/gemini-3-pro-image:generateContent",
  },
  openai: {
    package: "@ai-sdk/openai",
    create: "createOpenAI",
    keyVariable: "OPENAI_API_KEY",
    key: FAKE_OPENAI_API_KEY,
    basePath: "/v1",
    modelId: "gpt-image-1.5",
    requestPath: "/v1/images/generations",
  },
} as const;

/** `google.image(modelId)` or `openai.image(modelId)`, pointed at the emulator, with the fake key. */
export function aiSdkModel(api: AiSdkApi, emulatorUrl: string, modelId: string = AI_SDK[api].modelId) {
  const { basePath, key } = AI_SDK[api];
  const provider =
    api === "google"
      ? createGoogleGenerativeAI({ baseURL: `${emulatorUrl}${basePath}`, apiKey: key })
      : createOpenAI({ baseURL: `${emulatorUrl}${basePath}`, apiKey: key });
  return provider.image(modelId);
}

/**
 * `imagegen.config.ts` as a user writes it for an AI SDK model: the provider package reads its key
 * from the environment (GOOGLE_GENERATIVE_AI_API_KEY, OPENAI_API_KEY); only `baseURL` points at the emulator.
 */
export function aiSdkConfig(api: AiSdkApi, emulatorUrl: string, { modelId = AI_SDK[api].modelId, extra = "" } = {}): string {
  const { package: name, create, basePath } = AI_SDK[api];
  return [
    `import { ${create} } from "${name}";`,
    `import { defineConfig } from "unplugin-imagegen";`,
    ``,
    `const ${api} = ${create}({ baseURL: ${JSON.stringify(`${emulatorUrl}${basePath}`)} });`,
    ``,
    `export default defineConfig({ provider: ${api}.image(${JSON.stringify(modelId)}), retryDelayMs: 5${extra} });`,
    ``,
  ].join("\n");
}
