import { relativeInside } from "./project-path.js";
import path from "node:path";
import { ImagegenError, formatLocation } from "../errors.js";
import type { ImageParameters } from "./image-options-schema.js";
import type {
  Aspect,
  Fit,
  ImageOptions,
  ImageSize,
  ImageSpec,
  InputImage,
  OutputFormat,
  PlaceholderKind,
  SourceLocation,
} from "./spec.js";

export interface ResolveContext {
  /** The config's model, used when neither the image nor the defaults name one. */
  model: string;
  /** The config's defaults, already checked with `validateDefaults`. */
  defaults: ImageParameters;
  /** Style presets: name → text appended to the prompt. */
  styles: Record<string, string>;
  /**
   * Aspect ratios the provider's model makes natively, as it names them ("16:9", "21:9"): an image
   * whose `aspect` is one of these ratios asks the model for it, and its key includes it. None for
   * 1min.ai (a crop).
   */
  nativeAspects?: readonly string[];
  source: SourceLocation;
  /**
   * The project root. `edit` and `ref` paths must stay inside it; one that starts with `/` is
   * relative to it. Needed only by images with inputs.
   */
  root?: string;
}

/**
 * What an image gets when neither it nor any defaults say otherwise. temperature and topP
 * are the API's own defaults, so leaving them out and writing them give the same key.
 * `w`, `quality` and `aspect` have none: the original's width, each encoder's default, no crop.
 */
export const BUILT_IN_DEFAULTS = {
  size: "1K" as ImageSize,
  temperature: 1,
  topP: 0.95,
  variant: "",
  formats: ["webp", "jpeg"] as OutputFormat[],
  fit: "cover" as Fit,
  placeholder: "none" as PlaceholderKind,
} as const;

/**
 * ImageOptions + config → ImageSpec. Precedence: the image's own options, then
 * `context.defaults`, then BUILT_IN_DEFAULTS. A style appends its text to the prompt as
 * `${prompt}, ${styleText}`; the alt stays the prompt as written.
 */
export function resolveSpec(options: ImageOptions, context: ResolveContext): ImageSpec {
  const { defaults, source } = context;
  const prompt = options.prompt;
  if (prompt === undefined) {
    throw new ImagegenError(`${formatLocation(source)}: the image has no prompt`, { location: source });
  }

  const style = options.style ?? defaults.style;
  const styleText = style === undefined ? undefined : lookUpStyle(style, context.styles, source);
  const inputs = resolveInputs(options, source, context.root);
  const aspect = options.aspect ?? defaults.aspect;
  const nativeAspect = aspect === undefined ? undefined : asNative(aspect, context.nativeAspects);

  return {
    generation: {
      model: options.model ?? defaults.model ?? context.model,
      prompt: styleText ? `${prompt}, ${styleText}` : prompt,
      size: options.size ?? defaults.size ?? BUILT_IN_DEFAULTS.size,
      temperature: options.temperature ?? defaults.temperature ?? BUILT_IN_DEFAULTS.temperature,
      topP: options.topP ?? defaults.topP ?? BUILT_IN_DEFAULTS.topP,
      variant: options.variant ?? defaults.variant ?? BUILT_IN_DEFAULTS.variant,
      ...(nativeAspect !== undefined ? { aspect: nativeAspect } : {}),
      ...(inputs.length > 0 ? { inputs } : {}),
    },
    output: {
      widths: sortWidths(options.w ?? defaults.w),
      formats: dedupeFormats(options.format ?? defaults.format ?? BUILT_IN_DEFAULTS.formats),
      quality: options.quality ?? defaults.quality,
      // Still cropped when asked natively: a model's "16:9" is 1376×768, and the crop makes it exact.
      aspect,
      fit: options.fit ?? defaults.fit ?? BUILT_IN_DEFAULTS.fit,
      placeholder: options.placeholder ?? defaults.placeholder ?? BUILT_IN_DEFAULTS.placeholder,
    },
    prompt,
    style,
    alt: options.alt ?? defaults.alt ?? prompt,
    source,
  };
}

/**
 * `edit` then `ref` as files: relative to the importing file or manifest, or to the root when they
 * start with `/`, and never outside the root. Their bytes are read later (`hashInputs`).
 */
function resolveInputs(options: ImageOptions, source: SourceLocation, root: string | undefined): InputImage[] {
  const written = [
    ...(options.edit === undefined ? [] : [{ role: "edit" as const, written: options.edit }]),
    ...(options.ref ?? []).map((ref) => ({ role: "ref" as const, written: ref })),
  ];
  if (written.length === 0) return [];
  if (root === undefined) throw new Error("resolveSpec needs the project root to resolve edit and ref paths");
  return written.map(({ role, written }) => {
    const file = written.startsWith("/") ? path.join(root, written) : path.resolve(path.dirname(source.file), written);
    const relative = relativeInside(root, file);
    if (relative === undefined || relative === "") {
      throw new ImagegenError(
        `${formatLocation(source)}: ${role} "${written}" is outside the project root (${root}); use an image file inside the project`,
        { location: source },
      );
    }
    return { role, written, file, path: relative.split(path.sep).join("/") };
  });
}

/** The model's own name of `aspect` ("32:18" is its "16:9") when it makes that ratio natively, else `undefined` (a crop). */
function asNative({ width, height }: Aspect, nativeAspects: readonly string[] | undefined): string | undefined {
  return nativeAspects?.find((native) => {
    const [w, h] = native.split(":").map(Number);
    return w! * height === h! * width;
  });
}

/** The style's text, normalised like a prompt so the key does not depend on how it was typed. */
function lookUpStyle(style: string, styles: Record<string, string>, source: SourceLocation): string {
  // Own keys only: "constructor" or "__proto__" is not a style.
  if (!Object.hasOwn(styles, style) || typeof styles[style] !== "string") {
    const defined = Object.keys(styles);
    const allowed =
      defined.length > 0 ? `defined styles: ${defined.join(", ")}` : "no styles are defined in the config";
    throw new ImagegenError(`${formatLocation(source)}: unknown style "${style}"; ${allowed}`, { location: source });
  }
  return styles[style]!.normalize("NFC").trim();
}

/** Ascending and without repeats: `w=1280;640;640` makes two files. */
function sortWidths(widths: number[] | undefined): number[] | undefined {
  return widths === undefined ? undefined : [...new Set(widths)].sort((a, b) => a - b);
}

/** Keeps each format's last occurrence, so the fallback (the last one) stays last. */
function dedupeFormats(formats: readonly OutputFormat[]): OutputFormat[] {
  return formats.filter((format, index) => formats.lastIndexOf(format) === index);
}
