import type { ImageSize } from "./render.js";

/** What the emulator knows of one Gemini image model, as Google documents it. */
export interface GeminiImageModel {
  /** `imageConfig.imageSize` values it takes; a model without the field takes none (1K only). */
  imageSizes: readonly ImageSize[];
  /** Pixel size of its 1K answer for each `imageConfig.aspectRatio`; 2K doubles it, 4K quadruples it. */
  pixels: Readonly<Record<string, readonly [width: number, height: number]>>;
  /** The most input images one request may carry. */
  maxInputImages: number;
  /** Tokens of one output image, by size. */
  outputTokens: Readonly<Partial<Record<ImageSize, number>>>;
  /** Tokens of one input image. */
  inputImageTokens: number;
  /** A thinking model: it sends an interim image (`thought: true`) before the final one. */
  thinks: boolean;
}

/** Gemini 3 Pro Image's pixel sizes at 1K (its 10 aspect ratios). */
const GEMINI_3_PRO_PIXELS = {
  "1:1": [1024, 1024],
  "2:3": [848, 1264],
  "3:2": [1264, 848],
  "3:4": [896, 1200],
  "4:3": [1200, 896],
  "4:5": [928, 1152],
  "5:4": [1152, 928],
  "9:16": [768, 1376],
  "16:9": [1376, 768],
  "21:9": [1584, 672],
} as const;

/** Gemini 2.5 Flash Image's pixel sizes (1K only). */
const GEMINI_25_FLASH_PIXELS = {
  "1:1": [1024, 1024],
  "2:3": [832, 1248],
  "3:2": [1248, 832],
  "3:4": [864, 1184],
  "4:3": [1184, 864],
  "4:5": [896, 1152],
  "5:4": [1152, 896],
  "9:16": [768, 1344],
  "16:9": [1344, 768],
  "21:9": [1536, 672],
} as const;

const GEMINI_3_PRO: GeminiImageModel = {
  imageSizes: ["1K", "2K", "4K"],
  pixels: GEMINI_3_PRO_PIXELS,
  maxInputImages: 14,
  // 1120 tokens for a 1K or 2K image, 2000 for a 4K one; 560 per input image.
  outputTokens: { "1K": 1120, "2K": 1120, "4K": 2000 },
  inputImageTokens: 560,
  thinks: true,
};

const GEMINI_31_FLASH: GeminiImageModel = {
  ...GEMINI_3_PRO,
  pixels: { ...GEMINI_3_PRO_PIXELS, "1:4": [512, 2048], "4:1": [2048, 512], "1:8": [384, 3072], "8:1": [3072, 384] },
};

const GEMINI_25_FLASH: GeminiImageModel = {
  imageSizes: [],
  pixels: GEMINI_25_FLASH_PIXELS,
  maxInputImages: 3,
  outputTokens: { "1K": 1290 },
  inputImageTokens: 258,
  thinks: false,
};

/** The image models `generateContent` answers for, by the name in its path. */
export const GEMINI_IMAGE_MODELS: Readonly<Record<string, GeminiImageModel>> = {
  "gemini-3-pro-image": GEMINI_3_PRO,
  "gemini-3-pro-image-preview": GEMINI_3_PRO,
  "gemini-3.1-flash-image": GEMINI_31_FLASH,
  "gemini-3.1-flash-image-preview": GEMINI_31_FLASH,
  "gemini-2.5-flash-image": GEMINI_25_FLASH,
  "gemini-2.5-flash-image-preview": GEMINI_25_FLASH,
};

/** The pixel size a model answers for a size and an aspect ratio. */
export function geminiPixels(model: GeminiImageModel, size: ImageSize, aspectRatio: string): { width: number; height: number } {
  const [width, height] = model.pixels[aspectRatio]!;
  const scale = size === "4K" ? 4 : size === "2K" ? 2 : 1;
  return { width: width * scale, height: height * scale };
}
