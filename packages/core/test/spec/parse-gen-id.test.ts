import { describe, expect, test } from "vitest";
import { ImagegenError } from "../../src/errors.js";
import { GEN_PREFIX, isGenId, parseGenId } from "../../src/spec/parse-gen-id.js";
import type { ImageOptions } from "../../src/spec/spec.js";

const IMPORTER = "src/main.ts";
const ALLOWED = "size, temperature, topP, model, variant, style, w, format, quality, aspect, fit, placeholder, alt, edit, ref";

function errorOf(id: string, ...importer: [] | [string | undefined]): ImagegenError {
  try {
    parseGenId(id, importer.length === 0 ? IMPORTER : importer[0]);
  } catch (error) {
    expect(error).toBeInstanceOf(ImagegenError);
    return error as ImagegenError;
  }
  throw new Error(`expected ${JSON.stringify(id)} to be rejected`);
}

describe("parseGenId accepts", () => {
  const cases: [string, ImageOptions][] = [
    ["gen:a lighthouse at dawn", { prompt: "a lighthouse at dawn" }],
    ['gen:a "quoted" fox, watercolor. Dots, too.', { prompt: 'a "quoted" fox, watercolor. Dots, too.' }],
    ["gen:  padded prompt  ?size=2K", { prompt: "padded prompt", size: "2K" }],
    ["gen:is it day%3F?size=1K", { prompt: "is it day?", size: "1K" }],
    ["gen:50% off, 100%AB", { prompt: "50% off, 100%AB" }],
    ["gen:a%20red%20fox", { prompt: "a red fox" }],
    ["gen:%E6%9D%B1%E4%BA%AC", { prompt: "東京" }],
    ["gen:東京の夜景", { prompt: "東京の夜景" }],
    ["gen:Ελληνικά νησιά", { prompt: "Ελληνικά νησιά" }],
    ["gen:C++ logo+1?alt=C++ logo", { prompt: "C++ logo+1", alt: "C++ logo" }],
    ["gen:a%2Bb", { prompt: "a+b" }],
    ["gen:tab\tand\nnewline", { prompt: "tab\tand\nnewline" }],
    ["gen:a fox?", { prompt: "a fox" }],
    ["gen:a fox?size=4K&", { prompt: "a fox", size: "4K" }],
    [
      "gen:A futuristic cityscape at sunset?size=2K&w=640;1280&format=avif;webp",
      { prompt: "A futuristic cityscape at sunset", size: "2K", w: [640, 1280], format: ["avif", "webp"] },
    ],
    [
      "gen:x?temperature=0.7&topP=1&model=gemini-3-pro-image-preview&variant=b-2&style=watercolor",
      { prompt: "x", temperature: 0.7, topP: 1, model: "gemini-3-pro-image-preview", variant: "b-2", style: "watercolor" },
    ],
    ["gen:x?temperature=0&topP=0", { prompt: "x", temperature: 0, topP: 0 }],
    ["gen:x?temperature=2&topP=.5", { prompt: "x", temperature: 2, topP: 0.5 }],
    ["gen:x?quality=1&aspect=4:3&fit=contain&placeholder=blur", {
      prompt: "x", quality: 1, aspect: { width: 4, height: 3 }, fit: "contain", placeholder: "blur",
    }],
    ["gen:x?quality=100&aspect=100:1&fit=inside&placeholder=none", {
      prompt: "x", quality: 100, aspect: { width: 100, height: 1 }, fit: "inside", placeholder: "none",
    }],
    ["gen:x?w=8192&format=png", { prompt: "x", w: [8192], format: ["png"] }],
    ["gen:x?alt=A fox%2C running %26 jumping = fun", { prompt: "x", alt: "A fox, running & jumping = fun" }],
    ["gen:x?alt=", { prompt: "x", alt: "" }],
  ];

  test.each(cases)("%s", (id, expected) => {
    expect(parseGenId(id, IMPORTER)).toEqual(expected);
  });

  test("NFC: a decomposed é and a composed é are the same prompt", () => {
    const decomposed = parseGenId("gen:caf\u0065\u0301");
    const composed = parseGenId("gen:caf\u00e9");
    expect(decomposed.prompt).toBe("café");
    expect(decomposed).toEqual(composed);
    expect(parseGenId("gen:caf%65%CC%81")).toEqual(composed);
  });

  test("a prompt of exactly 4000 characters is allowed", () => {
    expect(parseGenId(`gen:${"a".repeat(4000)}`).prompt).toHaveLength(4000);
    expect(parseGenId(`gen:${"東".repeat(4000)}`).prompt).toHaveLength(4000);
  });

  test("isGenId and GEN_PREFIX", () => {
    expect(GEN_PREFIX).toBe("gen:");
    expect(isGenId("gen:a fox")).toBe(true);
    expect(isGenId("./gen:a fox")).toBe(false);
    expect(isGenId("general.ts")).toBe(false);
  });
});

describe("parseGenId rejects", () => {
  const invalid = (id: string, problem: string) =>
    `Invalid gen: import ${JSON.stringify(id)} in ${IMPORTER}: ${problem}`;

  const cases: [string, string][] = [
    ["gen:", 'prompt must be non-empty text (got "")'],
    ["gen:?size=2K", 'prompt must be non-empty text (got "")'],
    ["gen:   ", 'prompt must be non-empty text (got "   ")'],
    ["gen:%20%09?size=2K", 'prompt must be non-empty text (got " \\t")'],
    ["gen:a fox?sise=2K", `unknown parameter "sise"; allowed: ${ALLOWED}`],
    ["gen:a fox?prompt=a cat", `unknown parameter "prompt"; allowed: ${ALLOWED}`],
    ["gen:a fox?size=2K&Size=2K", `unknown parameter "Size"; allowed: ${ALLOWED}`],
    ["gen:a fox?sise=8K&size=9K", `unknown parameter "sise"; allowed: ${ALLOWED}`],
    ["gen:a fox?size=9K&sise=8K", 'size must be one of 1K, 2K, 4K (got "9K")'],
    ["gen:a fox?size=8K", 'size must be one of 1K, 2K, 4K (got "8K")'],
    ["gen:a fox?size=2k", 'size must be one of 1K, 2K, 4K (got "2k")'],
    ["gen:a fox?size=", 'size must be one of 1K, 2K, 4K (got "")'],
    ["gen:a fox?temperature=3", 'temperature must be a number from 0 to 2 (got "3")'],
    ["gen:a fox?temperature=NaN", 'temperature must be a number from 0 to 2 (got "NaN")'],
    ["gen:a fox?temperature=Infinity", 'temperature must be a number from 0 to 2 (got "Infinity")'],
    ["gen:a fox?temperature=1e999", 'temperature must be a number from 0 to 2 (got "1e999")'],
    ["gen:a fox?temperature=", 'temperature must be a number from 0 to 2 (got "")'],
    ["gen:a fox?temperature=0x1", 'temperature must be a number from 0 to 2 (got "0x1")'],
    ["gen:a fox?topP=-1", 'topP must be a number from 0 to 1 (got "-1")'],
    ["gen:a fox?topP=1.01", 'topP must be a number from 0 to 1 (got "1.01")'],
    ["gen:a fox?model=", 'model must be a model name of 1 to 200 characters without spaces (got "")'],
    ["gen:a fox?model=my model", 'model must be a model name of 1 to 200 characters without spaces (got "my model")'],
    ["gen:a fox?variant=a b", 'variant must be 1 to 64 letters, digits, ".", "_" or "-" (got "a b")'],
    ["gen:a fox?variant=", 'variant must be 1 to 64 letters, digits, ".", "_" or "-" (got "")'],
    ["gen:a fox?style=../x", 'style must be a style name of 1 to 64 letters, digits, ".", "_" or "-" (got "../x")'],
    ["gen:a fox?w=0", 'w must be integers from 1 to 8192 separated by ";" (got "0")'],
    ["gen:a fox?w=8193", 'w must be integers from 1 to 8192 separated by ";" (got "8193")'],
    ["gen:a fox?w=abc", 'w must be integers from 1 to 8192 separated by ";" (got "abc")'],
    ["gen:a fox?w=640;;1280", 'w must be integers from 1 to 8192 separated by ";" (got "640;;1280")'],
    ["gen:a fox?w=640,1280", 'w must be integers from 1 to 8192 separated by ";" (got "640,1280")'],
    ["gen:a fox?w=640.5", 'w must be integers from 1 to 8192 separated by ";" (got "640.5")'],
    ["gen:a fox?w=", 'w must be integers from 1 to 8192 separated by ";" (got "")'],
    ["gen:a fox?format=gif", 'format must be avif, webp, jpeg, png separated by ";" (got "gif")'],
    ["gen:a fox?format=jpg", 'format must be avif, webp, jpeg, png separated by ";" (got "jpg")'],
    ["gen:a fox?format=avif;", 'format must be avif, webp, jpeg, png separated by ";" (got "avif;")'],
    ["gen:a fox?quality=0", 'quality must be an integer from 1 to 100 (got "0")'],
    ["gen:a fox?quality=101", 'quality must be an integer from 1 to 100 (got "101")'],
    ["gen:a fox?quality=80.5", 'quality must be an integer from 1 to 100 (got "80.5")'],
    ["gen:a fox?aspect=4x3", 'aspect must be W:H with integers from 1 to 100, like "4:3" (got "4x3")'],
    ["gen:a fox?aspect=0:1", 'aspect must be W:H with integers from 1 to 100, like "4:3" (got "0:1")'],
    ["gen:a fox?aspect=101:1", 'aspect must be W:H with integers from 1 to 100, like "4:3" (got "101:1")'],
    ["gen:a fox?aspect=-4:3", 'aspect must be W:H with integers from 1 to 100, like "4:3" (got "-4:3")'],
    ["gen:a fox?fit=fill", 'fit must be one of cover, contain, inside (got "fill")'],
    ["gen:a fox?placeholder=yes", 'placeholder must be one of blur, none (got "yes")'],
    ["gen:a fox?alt=a%07bell", 'alt must be text of at most 4000 characters without control characters (got "a\\u0007bell")'],
    ["gen:a fox?size=2K&size=4K", 'parameter "size" is given twice; give each parameter once'],
    ["gen:a fox?w=640&w=1280", 'parameter "w" is given twice; give each parameter once'],
    ["gen:a fox?size", 'parameter "size" has no value; write size=<value>'],
    ["gen:a fox?size=2K&blur", 'parameter "blur" has no value; write blur=<value>'],
    ["gen:a%00fox", "prompt must not contain control characters other than tab and newline (got U+0000)"],
    ["gen:a\u0007fox", "prompt must not contain control characters other than tab and newline (got U+0007)"],
    ["gen:a%0Dfox", "prompt must not contain control characters other than tab and newline (got U+000D)"],
    ["gen:a%7Ffox", "prompt must not contain control characters other than tab and newline (got U+007F)"],
    [`gen:${"a".repeat(4001)}`, "prompt must be at most 4000 characters (got 4001)"],
    [`gen:${"a".repeat(100_000)}`, "prompt must be at most 4000 characters (got 100000)"],
  ];

  test.each(cases)("%s", (id, problem) => {
    const error = errorOf(id);
    const shown = id.length > 100 ? `${id.slice(0, 97)}…` : id;
    expect(error.message).toBe(invalid(shown, problem));
    expect(error.location).toEqual({ file: IMPORTER, id });
  });

  test("the message names the import and the importer, as in the spec", () => {
    expect(errorOf("gen:a fox?size=8K").message).toBe(
      'Invalid gen: import "gen:a fox?size=8K" in src/main.ts: size must be one of 1K, 2K, 4K (got "8K")',
    );
  });

  test("without an importer the message still names the import", () => {
    const error = errorOf("gen:a fox?size=8K", undefined);
    expect(error.message).toBe('Invalid gen: import "gen:a fox?size=8K": size must be one of 1K, 2K, 4K (got "8K")');
    expect(error.location).toEqual({ file: "", id: "gen:a fox?size=8K" });
  });

  test("an id without the prefix", () => {
    expect(errorOf("a fox").message).toBe('Invalid gen: import "a fox" in src/main.ts: it must start with "gen:"');
  });

  test("a 100 kB prompt gives a one-line message of bounded length", () => {
    const error = errorOf(`gen:${"a".repeat(100_000)}?size=2K`);
    expect(error.message.split("\n")).toHaveLength(1);
    expect(error.message.length).toBeLessThan(250);
  });

  test("a prompt with a newline still gives a one-line message", () => {
    const error = errorOf("gen:two\nlines?size=8K");
    expect(error.message).toBe(
      'Invalid gen: import "gen:two\\nlines?size=8K" in src/main.ts: size must be one of 1K, 2K, 4K (got "8K")',
    );
  });
});
