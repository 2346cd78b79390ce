import { describe, expect, test } from "vitest";
import { ImagegenError } from "../../src/errors.js";
import { parseManifest, toExportName } from "../../src/spec/manifest.js";

const FILE = "src/site.prompts.yaml";
const PARAMETERS = "size, temperature, topP, model, variant, style, w, format, quality, aspect, fit, placeholder, alt, edit, ref";
const NAME_RULE = 'a name is a letter, then up to 63 letters, digits, "_" or "-"';

function errorOf(text: string): ImagegenError {
  try {
    parseManifest(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(ImagegenError);
    return error as ImagegenError;
  }
  throw new Error(`expected the manifest to be rejected:\n${text}`);
}

/** Lines joined with "\n", so that line and column numbers in a case are easy to count. */
const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

describe("parseManifest accepts", () => {
  test("the manifest of the spec, with defaults merged and positions kept", () => {
    const manifest = parseManifest(
      yaml(
        "# src/site.prompts.yaml",
        "defaults:            # optional; every field of an image may be set here",
        "  size: 2K",
        "  w: [640, 1280, 1920]",
        "  format: [avif, webp]",
        "images:",
        "  hero:",
        "    prompt: A futuristic cityscape at sunset with flying vehicles",
        "    alt: A city of glass towers at sunset",
        "    size: 4K",
        "  team-photo:",
        "    prompt: Five people around a whiteboard, warm light",
        '    aspect: "3:2"',
      ),
      FILE,
    );
    expect(manifest).toEqual({
      file: FILE,
      defaults: { size: "2K", w: [640, 1280, 1920], format: ["avif", "webp"] },
      images: [
        {
          name: "hero",
          exportName: "hero",
          options: {
            prompt: "A futuristic cityscape at sunset with flying vehicles",
            alt: "A city of glass towers at sunset",
            size: "4K",
            w: [640, 1280, 1920],
            format: ["avif", "webp"],
          },
          location: { file: FILE, line: 7, column: 3, name: "hero" },
        },
        {
          name: "team-photo",
          exportName: "teamPhoto",
          options: {
            prompt: "Five people around a whiteboard, warm light",
            aspect: { width: 3, height: 2 },
            size: "2K",
            w: [640, 1280, 1920],
            format: ["avif", "webp"],
          },
          location: { file: FILE, line: 11, column: 3, name: "team-photo" },
        },
      ],
    });
  });

  test("every field, in YAML form and in ;-string form", () => {
    const { images } = parseManifest(
      yaml(
        "images:",
        "  full:",
        "    prompt: x",
        "    size: 1K",
        "    temperature: 0.7",
        "    topP: 1",
        "    model: gemini-3-pro-image-preview",
        "    variant: 2",
        "    style: watercolor",
        '    w: "1280;640"',
        "    format: avif;jpeg",
        "    quality: 80",
        "    aspect: 16:9",
        "    fit: inside",
        "    placeholder: blur",
        '    alt: ""',
      ),
      FILE,
    );
    expect(images[0]!.options).toEqual({
      prompt: "x",
      size: "1K",
      temperature: 0.7,
      topP: 1,
      model: "gemini-3-pro-image-preview",
      variant: "2",
      style: "watercolor",
      w: [1280, 640],
      format: ["avif", "jpeg"],
      quality: 80,
      aspect: { width: 16, height: 9 },
      fit: "inside",
      placeholder: "blur",
      alt: "",
    });
  });

  test("per-image fields win over defaults; an empty defaults: is no defaults", () => {
    const merged = parseManifest(
      yaml("defaults:", "  size: 2K", "  fit: contain", "images:", "  a:", "    prompt: x", "    size: 4K"),
      FILE,
    );
    expect(merged.images[0]!.options).toEqual({ prompt: "x", size: "4K", fit: "contain" });
    const empty = parseManifest(yaml("defaults:", "images:", "  a:", "    prompt: x"), FILE);
    expect(empty.defaults).toEqual({});
    expect(empty.images[0]!.options).toEqual({ prompt: "x" });
  });

  test("an empty images: mapping is a manifest with no images", () => {
    expect(parseManifest("images: {}\n", FILE).images).toEqual([]);
  });

  test("prompts: block scalars, non-Latin scripts, NFC, quotes and commas", () => {
    const { images } = parseManifest(
      yaml(
        "images:",
        "  night:",
        "    prompt: 東京の夜景",
        "  greek:",
        "    prompt: Ελληνικά νησιά, «καλοκαίρι»",
        "  cafe:",
        '    prompt: "caf\\u0065\\u0301"',
        "  long:",
        "    prompt: >",
        '      A "quoted" fox, in watercolor.',
        "      Second line.",
        "  alias:",
        "    prompt: &shared a shared prompt",
        "  again:",
        "    prompt: *shared",
      ),
      FILE,
    );
    expect(images.map((image) => image.options.prompt)).toEqual([
      "東京の夜景",
      "Ελληνικά νησιά, «καλοκαίρι»",
      "café",
      'A "quoted" fox, in watercolor. Second line.',
      "a shared prompt",
      "a shared prompt",
    ]);
    expect(images[2]!.options.prompt).toBe("caf\u00e9");
  });

  test.each([
    ["hero", "hero"],
    ["team-photo", "teamPhoto"],
    ["hero_2", "hero_2"],
    ["a-b-c", "aBC"],
    ["icon-2x", "icon2x"],
    ["Logo", "Logo"],
  ])("export name of %s is %s", (name, exportName) => {
    expect(toExportName(name)).toBe(exportName);
    const manifest = parseManifest(yaml("images:", `  ${name}:`, "    prompt: x"), FILE);
    expect(manifest.images[0]!.exportName).toBe(exportName);
  });
});

describe("parseManifest rejects", () => {
  const IMAGE_FIELDS = `prompt, ${PARAMETERS}`;
  const cases: [string, string, string][] = [
    // YAML syntax
    [
      "bad indentation",
      yaml("images:", "  hero:", "    prompt: a", "   size: 2K"),
      "4:1: bad indentation (all mapping items must start at the same column); indent with spaces, every key of one mapping at the same column",
    ],
    ["a tab", yaml("images:", "  hero:", "  \tprompt: a"), "3:3: a tab is used for indentation; YAML allows only spaces"],
    ["an unclosed quote", yaml("images:", "  hero:", '    prompt: "a fox'), '4:1: invalid YAML: missing closing "quote'],
    [
      "two documents",
      yaml("images: {}", "---", "images: {}"),
      "2:1: invalid YAML: source contains multiple documents; please use YAML.parseAllDocuments()",
    ],
    // Shape of the file
    ["an empty file", "", "1:1: the manifest is empty; it needs an images: mapping of names to prompts"],
    ["only comments", yaml("# nothing yet"), "1:1: the manifest is empty; it needs an images: mapping of names to prompts"],
    ["a list", yaml("- hero", "- team"), "1:1: a manifest must be a mapping with images: and an optional defaults: (got a list)"],
    ["a scalar", yaml("hello"), '1:1: a manifest must be a mapping with images: and an optional defaults: (got "hello")'],
    ["no images", yaml("defaults:", "  size: 2K"), "1:1: images: is missing; a manifest lists its images under images:"],
    ["an unknown top-level field", yaml("images: {}", "image:", "  hero: {}"), '2:1: unknown field "image"; allowed: defaults, images'],
    ["images as a list", yaml("images:", "  - prompt: a"), "2:3: images must be a mapping of image names to images (got a list)"],
    ["images empty", yaml("images:"), "1:1: images must be a mapping of image names to images (got null)"],
    ["defaults as a list", yaml("defaults: [2K]", "images: {}"), "1:11: defaults must be a mapping of image fields (got a list)"],
    ["an image as text", yaml("images:", "  hero: a fox"), '2:9: image "hero" must be a mapping with a prompt (got "a fox")'],
    ["an image with nothing", yaml("images:", "  hero:"), '2:3: image "hero" must be a mapping with a prompt (got null)'],
    // Names
    [
      "a duplicate name",
      yaml("images:", "  hero:", "    prompt: a", "  hero:", "    prompt: b"),
      '4:3: duplicate image name "hero"; each image needs its own name',
    ],
    [
      "a duplicate field",
      yaml("images:", "  hero:", "    prompt: a", "    size: 2K", "    size: 4K"),
      '5:5: duplicate key "size"; a key may appear only once in a mapping',
    ],
    ["a path as a name", yaml("images:", '  "../etc":', "    prompt: a"), `2:3: image name "../etc" is not allowed; ${NAME_RULE}`],
    ["a number as a name", yaml("images:", "  123:", "    prompt: a"), `2:3: image name 123 is not allowed; ${NAME_RULE}`],
    ["a name with a space", yaml("images:", "  my hero:", "    prompt: a"), `2:3: image name "my hero" is not allowed; ${NAME_RULE}`],
    [
      "a name of 65 characters",
      yaml("images:", `  ${"a".repeat(65)}:`, "    prompt: a"),
      `2:3: image name "${"a".repeat(57)}…" is not allowed; ${NAME_RULE}`,
    ],
    [
      "two names with one export",
      yaml("images:", "  team-photo:", "    prompt: a", "  teamPhoto:", "    prompt: b"),
      '4:3: images "team-photo" and "teamPhoto" both export as teamPhoto; rename one of them',
    ],
    [
      "a reserved word",
      yaml("images:", "  class:", "    prompt: a"),
      '2:3: image name "class" exports as class, a JavaScript reserved word; rename it',
    ],
    [
      "default",
      yaml("images:", "  default:", "    prompt: a"),
      '2:3: image name "default" exports as default, a JavaScript reserved word; rename it',
    ],
    // Fields
    ["an image without prompt", yaml("images:", "  hero:", "    size: 2K"), "2:3: prompt is missing; every image needs a prompt"],
    ["an empty prompt", yaml("images:", "  hero:", '    prompt: ""'), '3:13: prompt must be non-empty text (got "")'],
    ["a prompt that is a number", yaml("images:", "  hero:", "    prompt: 42"), "3:13: prompt must be text (got 42)"],
    [
      "a control character in a prompt",
      yaml("images:", "  hero:", '    prompt: "a\\abell"'),
      "3:13: prompt must not contain control characters other than tab and newline (got U+0007)",
    ],
    [
      "a prompt of 4001 characters",
      yaml("images:", "  hero:", `    prompt: ${"a".repeat(4001)}`),
      "3:13: prompt must be at most 4000 characters (got 4001)",
    ],
    [
      "an unknown field, at its key",
      yaml("images:", "  hero:", "    prompt: a", "    sise: 2K"),
      `4:5: unknown field "sise"; allowed: ${IMAGE_FIELDS}`,
    ],
    [
      "a prompt in defaults",
      yaml("defaults:", "  prompt: a", "images: {}"),
      `2:3: unknown field "prompt"; allowed: ${PARAMETERS}`,
    ],
    ["size: 3", yaml("images:", "  hero:", "    prompt: a", "    size: 3"), "4:11: size must be one of 1K, 2K, 4K (got 3)"],
    ["size: 8K", yaml("images:", "  hero:", "    prompt: a", "    size: 8K"), '4:11: size must be one of 1K, 2K, 4K (got "8K")'],
    ["size with nothing", yaml("images:", "  hero:", "    prompt: a", "    size:"), "4:5: size must be one of 1K, 2K, 4K (got null)"],
    [
      "temperature: .nan",
      yaml("images:", "  hero:", "    prompt: a", "    temperature: .nan"),
      "4:18: temperature must be a number from 0 to 2 (got NaN)",
    ],
    [
      "topP: 2",
      yaml("defaults:", "  topP: 2", "images: {}"),
      "2:9: topP must be a number from 0 to 1 (got 2)",
    ],
    [
      "a width of 0 in a list, at the item",
      yaml("images:", "  hero:", "    prompt: a", "    w: [640, 0]"),
      "4:14: w must be a list of integers from 1 to 8192 (got 0)",
    ],
    [
      "widths as a broken string",
      yaml("images:", "  hero:", "    prompt: a", '    w: "640;;1280"'),
      '4:8: w must be integers from 1 to 8192 separated by ";" (got "640;;1280")',
    ],
    ["an empty width list", yaml("images:", "  hero:", "    prompt: a", "    w: []"), "4:8: w must be a list of integers from 1 to 8192 (got an empty list)"],
    [
      "format gif in a block list",
      yaml("images:", "  hero:", "    prompt: a", "    format:", "      - avif", "      - gif"),
      '6:9: format must be a list of avif, webp, jpeg, png (got "gif")',
    ],
    [
      "quality: 101",
      yaml("images:", "  hero:", "    prompt: a", "    quality: 101"),
      "4:14: quality must be an integer from 1 to 100 (got 101)",
    ],
    [
      "aspect: 4x3",
      yaml("images:", "  hero:", "    prompt: a", "    aspect: 4x3"),
      '4:13: aspect must be W:H with integers from 1 to 100, like "4:3" (got "4x3")',
    ],
    [
      "fit: fill",
      yaml("images:", "  hero:", "    prompt: a", "    fit: fill"),
      '4:10: fit must be one of cover, contain, inside (got "fill")',
    ],
    [
      "placeholder: yes",
      yaml("images:", "  hero:", "    prompt: a", "    placeholder: yes"),
      '4:18: placeholder must be one of blur, none (got "yes")',
    ],
    [
      "a style that is a path",
      yaml("images:", "  hero:", "    prompt: a", "    style: ../x"),
      '4:12: style must be a style name of 1 to 64 letters, digits, ".", "_" or "-" (got "../x")',
    ],
    [
      "the first problem in the file wins",
      yaml("images:", "  hero:", "    prompt: a", "    size: 9K", "    sise: 2K", "  other:", "    fit: fill"),
      '4:11: size must be one of 1K, 2K, 4K (got "9K")',
    ],
    [
      "a problem in defaults after the images",
      yaml("images:", "  hero:", "    prompt: a", "    fit: fill", "defaults:", "  size: 9K"),
      '4:10: fit must be one of cover, contain, inside (got "fill")',
    ],
  ];

  test.each(cases)("%s", (_, text, expected) => {
    const error = errorOf(text);
    expect(error.message).toBe(`${FILE}:${expected}`);
    const [line, column] = expected.split(":").map(Number);
    expect(error.location).toMatchObject({ file: FILE, line, column });
  });

  test("an alias bomb is refused, not expanded", () => {
    const levels = ["    a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [previous, name] of ["ab", "bc", "cd", "de", "ef", "fg", "gh", "hi"]) {
      levels.push(`    ${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const error = errorOf(yaml("images:", "  bomb:", ...levels, "    prompt: x"));
    expect(error.message).toBe(
      `${FILE}:3:5: invalid YAML: excessive alias count indicates a resource exhaustion attack`,
    );
  });

  test("the location names the image when the problem is inside one", () => {
    expect(errorOf(yaml("images:", "  hero:", "    prompt: a", "    size: 3")).location).toEqual({
      file: FILE,
      line: 4,
      column: 11,
      name: "hero",
    });
  });
});
