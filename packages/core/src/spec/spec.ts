/** Sizes the model accepts (SPEC §1). Pixel size of a 1:1 answer: 1K = 1024², 2K = 2048², 4K = 4096². */
export const IMAGE_SIZES = ["1K", "2K", "4K"] as const;
export type ImageSize = (typeof IMAGE_SIZES)[number];

export const OUTPUT_FORMATS = ["avif", "webp", "jpeg", "png"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const FITS = ["cover", "contain", "inside"] as const;
export type Fit = (typeof FITS)[number];

export const PLACEHOLDERS = ["blur", "none"] as const;
export type PlaceholderKind = (typeof PLACEHOLDERS)[number];

export const DEFAULT_MODEL = "gemini-3-pro-image-preview";

/** Pixel edge of a 1:1 original for each size. */
export const SIZE_PIXELS: Record<ImageSize, number> = { "1K": 1024, "2K": 2048, "4K": 4096 };

/** Where a spec was declared: an import in a source file, or a name in a manifest. */
export interface SourceLocation {
  /** Absolute path of the importing file or of the manifest. */
  file: string;
  /** 1-based; absent when the bundler did not say. */
  line?: number;
  /** 1-based. */
  column?: number;
  /** The `gen:` id as written, for imports. */
  id?: string;
  /** The image name, for manifests. */
  name?: string;
}

/**
 * Everything a user can write for one image, before defaults are applied.
 * `gen:` query strings and manifest entries both parse into this shape.
 */
export interface ImageOptions {
  prompt?: string;
  size?: ImageSize;
  temperature?: number;
  topP?: number;
  model?: string;
  variant?: string;
  style?: string;
  w?: number[];
  format?: OutputFormat[];
  quality?: number;
  aspect?: Aspect;
  fit?: Fit;
  placeholder?: PlaceholderKind;
  alt?: string;
  /** The image to edit, as written: a path relative to the importing file or manifest (SPEC §12). */
  edit?: string;
  /** Up to two style or subject references, as written, relative like `edit`. */
  ref?: string[];
}

export interface Aspect {
  width: number;
  height: number;
}

/** What decides which original is generated (SPEC §4): the key is a hash of exactly this. */
export interface GenerationParams {
  model: string;
  /** Final prompt text sent to the model, style text included. */
  prompt: string;
  size: ImageSize;
  temperature: number;
  topP: number;
  /** A label that asks for an independent image of the same prompt; "" when none. */
  variant: string;
  /**
   * The aspect ratio asked of the model ("16:9"), as the model names it, set only where the provider's model makes
   * it natively (SPEC §14); absent otherwise, so that no other key changes and `aspect` stays a crop.
   */
  aspect?: string;
  /**
   * Project images the model works from (SPEC §12): the edited image first, then the references.
   * Absent when there are none, so that the key of an image without inputs never changes.
   */
  inputs?: InputImage[];
}

/** The fields of a generation that each record of it repeats: the store's metadata, the lock entry. */
export type GenerationFields = Pick<GenerationParams, "model" | "prompt" | "size" | "temperature" | "topP" | "variant" | "aspect">;

/** {@link GenerationFields} of a generation (or of a record of one), and nothing else it carries; `aspect` only where it was asked. */
export function generationFields(from: GenerationFields): GenerationFields {
  const { model, prompt, size, temperature, topP, variant, aspect } = from;
  return { model, prompt, size, temperature, topP, variant, ...(typeof aspect === "string" && { aspect }) };
}

export const INPUT_ROLES = ["edit", "ref"] as const;
export type InputRole = (typeof INPUT_ROLES)[number];

/** At most this many `ref` images: the API has `referenceImage1` and `referenceImage2`. */
export const MAX_REFERENCES = 2;

/** One input file of an edit. The key includes its role and sha256, never its path. */
export interface InputImage {
  /** `edit` (sent as `imageUrl`) or `ref` (sent as `referenceImage1`/`2`). */
  role: InputRole;
  /** The path as the user wrote it, for messages. */
  written: string;
  /** Absolute path of the file. */
  file: string;
  /** Relative to the project root, `/`-separated: what the lock and the report show. */
  path: string;
  /** sha256 hex of the file's bytes; set by `hashInputs` before the key is computed. */
  sha256?: string;
}

/** What sharp makes of the original; never part of the original's key. */
export interface OutputParams {
  /** Target widths, ascending; `undefined` means the original's width. */
  widths: number[] | undefined;
  /** Formats in order; the last one is the fallback `src`. */
  formats: OutputFormat[];
  /** `undefined` means each format's own default. */
  quality: number | undefined;
  aspect: Aspect | undefined;
  fit: Fit;
  placeholder: PlaceholderKind;
}

/** One fully resolved image: defaults, config and style applied. */
export interface ImageSpec {
  generation: GenerationParams;
  output: OutputParams;
  /** The prompt as the user wrote it, before style. */
  prompt: string;
  style: string | undefined;
  alt: string;
  source: SourceLocation;
}
