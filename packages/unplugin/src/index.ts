export { defineConfig, type ImagegenOptions, type Provider, type GenerationRequest, type GeneratedImage } from "@imagegen/core";
export { unpluginImagegen, unpluginImagegen as default, type ImagegenPluginOptions } from "./factory.js";
