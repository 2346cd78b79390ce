import { describe, expect, test } from "vitest";
import { ImagegenError } from "../../src/errors.js";
import { validateDefaults } from "../../src/spec/image-options-schema.js";
import { parseGenId } from "../../src/spec/parse-gen-id.js";
import { BUILT_IN_DEFAULTS, type ResolveContext, resolveSpec } from "../../src/spec/resolve-spec.js";
import { DEFAULT_MODEL, type ImageOptions, type SourceLocation } from "../../src/spec/spec.js";

const IMPORT: SourceLocation = { file: "/app/src/main.ts", id: "gen:a fox?style=oil" };
const MANIFEST_IMAGE: SourceLocation = { file: "/app/src/site.prompts.yaml", line: 7, column: 3, name: "hero" };

const context = (overrides: Partial<ResolveContext> = {}): ResolveContext => ({
  model: DEFAULT_MODEL,
  defaults: {},
  styles: { watercolor: "soft watercolor, paper texture", noir: "  black and white film noir  " },
  source: IMPORT,
  ...overrides,
});

function errorOf(run: () => unknown): ImagegenError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ImagegenError);
    return error as ImagegenError;
  }
  throw new Error("expected an ImagegenError");
}

describe("resolveSpec", () => {
  test("built-in defaults fill everything the image leaves out", () => {
    expect(resolveSpec({ prompt: "a fox" }, context())).toEqual({
      generation: { model: DEFAULT_MODEL, prompt: "a fox", size: "1K", temperature: 1, topP: 0.95, variant: "" },
      output: {
        widths: undefined,
        formats: ["webp", "jpeg"],
        quality: undefined,
        aspect: undefined,
        fit: "cover",
        placeholder: "none",
      },
      prompt: "a fox",
      style: undefined,
      alt: "a fox",
      source: IMPORT,
    });
    expect(BUILT_IN_DEFAULTS).toMatchObject({ size: "1K", temperature: 1, topP: 0.95, variant: "", fit: "cover" });
  });

  test("writing the built-in temperature and topP gives the same generation as leaving them out", () => {
    const implicit = resolveSpec(parseGenId("gen:a fox"), context());
    const explicit = resolveSpec(parseGenId("gen:a fox?temperature=1&topP=0.95&size=1K"), context());
    expect(explicit.generation).toEqual(implicit.generation);
  });

  test("the image wins over the config defaults, which win over the built-ins", () => {
    const defaults = validateDefaults(
      {
        size: "2K",
        temperature: 0.5,
        topP: 0.9,
        variant: "b",
        w: [1280, 640],
        format: "avif;webp",
        quality: 70,
        aspect: "1:1",
        fit: "contain",
        placeholder: "blur",
        alt: "default alt",
      },
      "defaults in imagegen.config.ts",
    );
    const fromDefaults = resolveSpec({ prompt: "a fox" }, context({ defaults }));
    expect(fromDefaults.generation).toEqual({
      model: DEFAULT_MODEL,
      prompt: "a fox",
      size: "2K",
      temperature: 0.5,
      topP: 0.9,
      variant: "b",
    });
    expect(fromDefaults.output).toEqual({
      widths: [640, 1280],
      formats: ["avif", "webp"],
      quality: 70,
      aspect: { width: 1, height: 1 },
      fit: "contain",
      placeholder: "blur",
    });
    expect(fromDefaults.alt).toBe("default alt");

    const own: ImageOptions = {
      prompt: "a fox",
      size: "4K",
      temperature: 0,
      topP: 0,
      variant: "c",
      w: [320],
      format: ["png"],
      quality: 90,
      aspect: { width: 4, height: 3 },
      fit: "inside",
      placeholder: "none",
      alt: "own alt",
    };
    const fromImage = resolveSpec(own, context({ defaults }));
    expect(fromImage.generation).toEqual({
      model: DEFAULT_MODEL,
      prompt: "a fox",
      size: "4K",
      temperature: 0,
      topP: 0,
      variant: "c",
    });
    expect(fromImage.output).toEqual({
      widths: [320],
      formats: ["png"],
      quality: 90,
      aspect: { width: 4, height: 3 },
      fit: "inside",
      placeholder: "none",
    });
    expect(fromImage.alt).toBe("own alt");
  });

  test.each([
    [{}, {}, "config-model"],
    [{}, { model: "defaults-model" }, "defaults-model"],
    [{ model: "image-model" }, { model: "defaults-model" }, "image-model"],
  ])("model: image %o, defaults %o → %s", (own, defaults, model) => {
    const spec = resolveSpec({ prompt: "x", ...own }, context({ model: "config-model", defaults }));
    expect(spec.generation.model).toBe(model);
  });

  test("a style appends its text, trimmed, after a comma; prompt and alt stay as written", () => {
    const spec = resolveSpec({ prompt: "a fox", style: "watercolor" }, context());
    expect(spec.generation.prompt).toBe("a fox, soft watercolor, paper texture");
    expect(spec.prompt).toBe("a fox");
    expect(spec.alt).toBe("a fox");
    expect(spec.style).toBe("watercolor");
    expect(resolveSpec({ prompt: "a fox", style: "noir" }, context()).generation.prompt).toBe(
      "a fox, black and white film noir",
    );
  });

  test("a style from the defaults applies; the image's own style wins", () => {
    const defaults = { style: "noir" };
    expect(resolveSpec({ prompt: "a fox" }, context({ defaults })).style).toBe("noir");
    expect(resolveSpec({ prompt: "a fox", style: "watercolor" }, context({ defaults })).style).toBe("watercolor");
  });

  test("an empty alt is kept: it marks a decorative image", () => {
    expect(resolveSpec({ prompt: "a fox", alt: "" }, context()).alt).toBe("");
  });

  test("widths are sorted and deduplicated; a repeated format keeps its last place", () => {
    const spec = resolveSpec({ prompt: "x", w: [1280, 640, 1280, 320], format: ["jpeg", "avif", "jpeg"] }, context());
    expect(spec.output.widths).toEqual([320, 640, 1280]);
    expect(spec.output.formats).toEqual(["avif", "jpeg"]);
  });

  test.each([
    [
      "an unknown style in an import",
      { prompt: "a fox", style: "oil" },
      context(),
      '/app/src/main.ts (import "gen:a fox?style=oil"): unknown style "oil"; defined styles: watercolor, noir',
    ],
    [
      "an unknown style in a manifest",
      { prompt: "a fox", style: "oil" },
      context({ source: MANIFEST_IMAGE }),
      '/app/src/site.prompts.yaml:7:3 (image "hero"): unknown style "oil"; defined styles: watercolor, noir',
    ],
    [
      "a style when none are defined",
      { prompt: "a fox", style: "oil" },
      context({ styles: {} }),
      '/app/src/main.ts (import "gen:a fox?style=oil"): unknown style "oil"; no styles are defined in the config',
    ],
    [
      "a style named like an Object method",
      { prompt: "a fox", style: "constructor" },
      context(),
      '/app/src/main.ts (import "gen:a fox?style=oil"): unknown style "constructor"; defined styles: watercolor, noir',
    ],
    [
      "an unknown style from the defaults",
      { prompt: "a fox" },
      context({ defaults: { style: "oil" } }),
      '/app/src/main.ts (import "gen:a fox?style=oil"): unknown style "oil"; defined styles: watercolor, noir',
    ],
    [
      "options without a prompt",
      {},
      context({ source: MANIFEST_IMAGE }),
      '/app/src/site.prompts.yaml:7:3 (image "hero"): the image has no prompt',
    ],
  ])("rejects %s", (_, options: ImageOptions, ctx, message) => {
    const error = errorOf(() => resolveSpec(options, ctx));
    expect(error.message).toBe(message);
    expect(error.location).toEqual(ctx.source);
  });
});

describe("validateDefaults", () => {
  const WHERE = "defaults in /app/imagegen.config.ts";
  const PARAMETERS = "size, temperature, topP, model, variant, style, w, format, quality, aspect, fit, placeholder, alt, edit, ref";

  test("accepts the query forms and the list forms alike", () => {
    expect(validateDefaults({}, WHERE)).toEqual({});
    expect(validateDefaults({ size: "2K", w: "640;1280", format: ["avif", "webp"], temperature: "0.5" }, WHERE)).toEqual({
      size: "2K",
      w: [640, 1280],
      format: ["avif", "webp"],
      temperature: 0.5,
    });
  });

  test.each([
    [{ size: "8K" }, `${WHERE}: size must be one of 1K, 2K, 4K (got "8K")`],
    [{ sise: "2K" }, `${WHERE}: unknown parameter "sise"; allowed: ${PARAMETERS}`],
    [{ prompt: "a fox" }, `${WHERE}: unknown parameter "prompt"; allowed: ${PARAMETERS}`],
    [{ temperature: Number.NaN }, `${WHERE}: temperature must be a number from 0 to 2 (got NaN)`],
    [{ w: [640, 0] }, `${WHERE}: w must be a list of integers from 1 to 8192 (got 0)`],
    [{ quality: 101 }, `${WHERE}: quality must be an integer from 1 to 100 (got 101)`],
    ["2K", `${WHERE} must be an object of image parameters (got "2K")`],
    [["2K"], `${WHERE} must be an object of image parameters (got a list)`],
  ])("rejects %o", (defaults, message) => {
    expect(errorOf(() => validateDefaults(defaults, WHERE)).message).toBe(message);
  });
});

describe("resolveSpec with a model that makes aspect ratios natively (SPEC §14)", () => {
  const gemini = context({ model: "google:gemini-3-pro-image", nativeAspects: ["1:1", "16:9", "9:16", "21:9"] });

  test("an aspect the model makes is asked of it by its own name and stays the output's crop", () => {
    const spec = resolveSpec({ prompt: "a fox", aspect: { width: 32, height: 18 } }, gemini);
    expect(spec.generation).toEqual({ model: "google:gemini-3-pro-image", prompt: "a fox", size: "1K", temperature: 1, topP: 0.95, variant: "", aspect: "16:9" });
    expect(spec.output.aspect).toEqual({ width: 32, height: 18 });
  });

  test("an aspect from the defaults counts too; one the model does not make is a crop alone", () => {
    expect(resolveSpec({ prompt: "a fox" }, { ...gemini, defaults: { aspect: { width: 21, height: 9 } } }).generation.aspect).toBe("21:9");
    const cropped = resolveSpec({ prompt: "a fox", aspect: { width: 4, height: 3 } }, gemini);
    expect(cropped.generation).not.toHaveProperty("aspect");
    expect(cropped.output.aspect).toEqual({ width: 4, height: 3 });
  });

  test("without native aspects (1min.ai) the generation never carries one", () => {
    const spec = resolveSpec({ prompt: "a fox", aspect: { width: 16, height: 9 } }, context());
    expect(spec.generation).not.toHaveProperty("aspect");
    expect(spec.output.aspect).toEqual({ width: 16, height: 9 });
  });
});
