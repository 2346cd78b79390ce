export {
  ProviderError,
  defineConfig,
  type GenerateContext,
  type GeneratedImage,
  type AiSdkImageModel,
  type GenerationRequest,
  type ImagegenOptions,
  type Provider,
  type ProviderModel,
} from "@imagegen/core";
export type { ImagegenPluginOptions } from "./plugin/factory.js";
export { unpluginImagegen, unpluginImagegen as default } from "./plugin/unplugin.js";
