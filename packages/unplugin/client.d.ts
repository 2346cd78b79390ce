// Types for modules that unplugin-imagegen makes. Add "unplugin-imagegen/client" to the
// `types` of your tsconfig (or `/// <reference types="unplugin-imagegen/client" />`).

/** One generated image, as every `gen:` module and every manifest entry exports it. */
interface ImagegenImage {
  /** URL of the fallback image: the largest width in the last format. */
  src: string;
  /** Pixel width of `src`. */
  width: number;
  /** Pixel height of `src`. */
  height: number;
  /** Format of `src`: the last of `format`. */
  format: "avif" | "webp" | "jpeg" | "png";
  /** `srcset` of the fallback format, e.g. `"/assets/a-640.x.jpg 640w, /assets/a-1280.y.jpg 1280w"`. */
  srcset: string;
  /** Format → srcset, in the order of `format`, for `<source type="image/…">`. */
  sources: Partial<Record<"avif" | "webp" | "jpeg" | "png", string>>;
  /** The `alt` parameter, else the prompt. */
  alt: string;
  /** A tiny blurred data URL with `placeholder=blur`, else `undefined`. */
  placeholder: string | undefined;
}

declare module "gen:*" {
  export const src: string;
  export const width: number;
  export const height: number;
  export const format: ImagegenImage["format"];
  export const srcset: string;
  export const sources: ImagegenImage["sources"];
  export const alt: string;
  export const placeholder: string | undefined;
  const url: string;
  export default url;
}

declare module "*.prompts.yaml" {
  const images: Record<string, ImagegenImage>;
  export default images;
}

declare module "*.prompts.yml" {
  const images: Record<string, ImagegenImage>;
  export default images;
}
