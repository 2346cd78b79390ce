export {
  ProviderError,
  defineConfig,
  type GenerateContext,
  type GeneratedImage,
  type GenerationRequest,
  type ImagegenOptions,
  type Provider,
} from "@imagegen/core";
export { unpluginImagegen, unpluginImagegen as default, type ImagegenPluginOptions } from "./plugin/factory.js";
