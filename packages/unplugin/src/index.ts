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
export { unpluginImagegen, unpluginImagegen as default, type ImagegenPluginOptions } from "./plugin/factory.js";
