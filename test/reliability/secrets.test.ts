import { readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { inspect } from "node:util";
import { type Emulator, startEmulator } from "@imagegen/emulator";
import type { ImagegenPluginOptions } from "unplugin-imagegen";
import { build, createServer } from "vite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AI_SDK, aiSdkConfig } from "../support/ai-sdk.js";
import { FAKE_API_KEY, FAKE_GOOGLE_API_KEY, FAKE_OPENAI_API_KEY, captureLogger, filesContaining, listFiles } from "../support/fixture-project.js";
import { startReview } from "../support/review-server.js";
import { CLI, runCli } from "../support/run-cli.js";
import { FAKE_AWS, startS3Server } from "../support/s3-server.js";
import { importing, reliabilityProject } from "./support/project.js";

// SPEC §5: "The API key never appears in a bundle, a log line, an error message, the store or
// the lock." Every bundler entry, the Vite dev server and every CLI command run with a
// recognisable fake key, which is then looked for everywhere they wrote or said anything.

type Build = (root: string, options: ImagegenPluginOptions) => Promise<void>;
async function entry(bundler: string): Promise<(options: ImagegenPluginOptions) => any> {
  const specifier = `unplugin-imagegen/${bundler}`;
  return (await import(/* @vite-ignore */ specifier)).default;
}

async function rollupLike(bundler: "rollup" | "rolldown", root: string, options: ImagegenPluginOptions) {
  const loaded = (await import(/* @vite-ignore */ bundler)) as { rollup?: typeof import("rollup").rollup; rolldown?: typeof import("rollup").rollup };
  const bundle = await (loaded.rollup ?? loaded.rolldown)!({ input: path.join(root, "src/main.js"), plugins: [(await entry(bundler))(options)], logLevel: "silent" });
  await bundle.write({ dir: path.join(root, "dist"), format: "es" });
  await bundle.close();
}

async function webpackLike(bundler: "webpack" | "rspack", root: string, options: ImagegenPluginOptions) {
  const loaded = bundler === "webpack" ? await import("webpack") : await import("@rspack/core");
  const create = ((loaded as { default?: unknown }).default ?? (loaded as { rspack?: unknown }).rspack ?? loaded) as (config: object) => any;
  const compiler = create({
    mode: "production",
    context: root,
    entry: "./src/main.js",
    output: { path: path.join(root, "dist"), filename: "main.js" },
    plugins: [(await entry(bundler))(options)],
  });
  const stats = await new Promise<any>((resolve, reject) => compiler.run((error: unknown, result: unknown) => (error ? reject(error) : resolve(result))));
  await new Promise((resolve) => compiler.close(resolve));
  const { errors } = stats.toJson({ all: false, errors: true });
  if (errors.length > 0) throw new Error(errors.map((e: { message: string }) => e.message).join("\n"));
}

/** Every bundler entry of the package, each driven by this test; one the package stops exporting fails it. */
const BUNDLERS: Record<string, Build> = {
  vite: async (root, options) => {
    await build({ root, configFile: false, logLevel: "silent", build: { modulePreload: { polyfill: false } }, plugins: [(await entry("vite"))(options)] });
  },
  rollup: (root, options) => rollupLike("rollup", root, options),
  rolldown: (root, options) => rollupLike("rolldown", root, options),
  webpack: (root, options) => webpackLike("webpack", root, options),
  rspack: (root, options) => webpackLike("rspack", root, options),
  esbuild: async (root, options) => {
    const esbuild = await import("esbuild");
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: ["src/main.js"],
      bundle: true,
      format: "esm",
      outdir: "dist",
      publicPath: "/",
      logLevel: "silent",
      plugins: [(await entry("esbuild"))(options)],
    });
  },
};

const packageJson = JSON.parse(await readFile(path.join(path.dirname(CLI), "..", "package.json"), "utf8")) as { exports: Record<string, unknown> };
const exported = Object.keys(BUNDLERS);

const MANIFEST = "images:\n  harbour:\n    prompt: A fishing harbour at blue hour\n    w: [64]\n    format: [webp, jpeg]\n";
const MAIN = `${importing("gen:a red fox?w=64;128&format=avif;webp&placeholder=blur", "gen:a grey heron?w=64&format=png")}import images from "./images.prompts.yaml";\nconsole.log(images);\n`;

let emulator: Emulator;
beforeAll(async () => {
  // Only the fake keys are accepted: every request below really carried them.
  emulator = await startEmulator({ apiKey: FAKE_API_KEY, googleApiKey: FAKE_GOOGLE_API_KEY, openaiApiKey: FAKE_OPENAI_API_KEY });
});
afterAll(() => emulator?.close());

/** Files of a project that contain the key: the output, the store, the lock, the cache, anything. */
async function leaks(root: string): Promise<string[]> {
  return filesContaining(root, FAKE_API_KEY);
}

async function project() {
  return reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST });
}

describe("the API key appears nowhere", () => {
  it(`in what ${exported.join(", ")} builds emit, store, lock, cache or log`, { timeout: 120_000 }, async () => {
    expect(exported.filter((name) => !(`./${name}` in packageJson.exports)), "bundler entries missing from the package").toEqual([]);
    for (const bundler of exported) {
      const root = await project();
      const log = captureLogger();
      emulator.reset();
      // The root as a user's cwd would give it (the plugin's default is process.cwd()).
      await BUNDLERS[bundler]!(root, { root, apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: log.logger, strict: true });
      expect(emulator.requests, bundler).toHaveLength(3);
      expect((await listFiles(path.join(root, "dist"))).length, bundler).toBeGreaterThan(1);
      expect((await listFiles(path.join(root, ".imagegen"))).length, bundler).toBe(6);
      expect(await leaks(root), bundler).toEqual([]);
      expect(log.lines.join("\n"), bundler).not.toContain(FAKE_API_KEY);
      // The emulator's own record of each request redacts the header that carried it.
      expect(JSON.stringify(emulator.requests)).not.toContain(FAKE_API_KEY);
      expect(emulator.requests.every((request) => request.headers["api-key"] === "[redacted]")).toBe(true);
    }
  });

  it("in a build error, even when the API echoes the key back", async () => {
    for (const bundler of exported) {
      const root = await project();
      const log = captureLogger();
      emulator.reset();
      emulator.injectFault({ kind: "status", status: 401, message: `API key ${FAKE_API_KEY} is not valid for this team`, times: 3 });
      const error = await BUNDLERS[bundler]!(root, { root, apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: log.logger, strict: true }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, bundler).toBeDefined();
      const shown = `${inspect(error, { depth: 20 })}\n${(error as Error).stack}`;
      expect(shown, bundler).toContain('"API key [redacted] is not valid for this team"');
      expect(shown, bundler).not.toContain(FAKE_API_KEY);
      expect(log.lines.join("\n"), bundler).not.toContain(FAKE_API_KEY);
      expect(await leaks(root), bundler).toEqual([]);
    }
  });

  it("in what the Vite dev server serves or logs", async () => {
    const root = await project();
    const logged: string[] = [];
    const log = captureLogger();
    emulator.reset();
    const server = await createServer({
      root,
      configFile: false,
      customLogger: {
        info: (m: string) => logged.push(m),
        warn: (m: string) => logged.push(m),
        warnOnce: (m: string) => logged.push(m),
        error: (m: string) => logged.push(m),
        clearScreen() {},
        hasErrorLogged: () => false,
        hasWarned: false,
      },
      server: { port: 0, host: "127.0.0.1", ws: false },
      plugins: [(await entry("vite"))({ apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: log.logger })],
    });
    try {
      await server.listen();
      const base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
      const seen: string[] = [];
      const get = async (url: string) => {
        const body = Buffer.from(await (await fetch(new URL(url, base))).arrayBuffer()).toString("latin1");
        seen.push(body);
        return body;
      };
      const main = await get("/src/main.js");
      for (const [, url] of main.matchAll(/from "([^"]+)"/g)) {
        const module = await get(url!);
        for (const [, image] of module.matchAll(/"(\/@imagegen\/[^"]+)"/g)) await get(image!);
      }
      // The dev server answers with stand-ins and generates in the background.
      await expect.poll(() => emulator.requests.length, { timeout: 20_000 }).toBe(3);
      expect(seen.length).toBeGreaterThan(6);
      // A failing generation too: the dev server answers with a stand-in, and reports the failure
      // in the terminal (and the overlay) once the API has answered.
      emulator.injectFault({ kind: "status", status: 400, message: `upstream rejected key ${FAKE_API_KEY}`, times: 10 });
      await writeFile(path.join(root, "src", "broken.js"), importing("gen:a broken image?w=64"));
      const broken = await get("/src/broken.js");
      const standIn = await get(/from "([^"]*imagegen[^"]*)"/.exec(broken)![1]!);
      for (const [, image] of standIn.matchAll(/"(\/@imagegen\/[^"]+)"/g)) await get(image!);
      await expect.poll(() => log.lines.find((line) => line.includes('Could not generate "a broken image"')), { timeout: 20_000 }).toContain("[redacted]");
      expect(seen.join("\n")).not.toContain(FAKE_API_KEY);
      expect([...logged, ...log.lines].join("\n")).not.toContain(FAKE_API_KEY);
      expect(await leaks(root)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("in the output of every CLI command, or what they write", { timeout: 120_000 }, async () => {
    const help = await runCli(["--help"], { cwd: process.cwd() });
    // `  prune [...keys]  …`, `  cache <action>  …`: the name, then its arguments, if any.
    const commands = [...help.stdout.slice(help.stdout.indexOf("Commands:")).matchAll(/^ {2}([a-z]+)(?: [[<][^\]>]*[\]>])? {2}/gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(["generate", "check", "list", "prune", "report", "review", "reroll", "approve", "reject", "types", "push", "pull", "cache"]));

    const root = await project();
    // The key in the config file as well as in the environment: both must stay hidden.
    await writeFile(path.join(root, "imagegen.config.mjs"), `export default { apiKey: ${JSON.stringify(FAKE_API_KEY)}, retryDelayMs: 5 };\n`);
    const outputs: string[] = [];
    const run = async (args: string[]) => {
      const result = await runCli(args, { cwd: root, apiUrl: emulator.url });
      outputs.push(`$ imagegen ${args.join(" ")} → ${result.code}\n${result.stdout}\n${result.stderr}`);
      return result;
    };
    emulator.reset();
    for (const command of commands) {
      // A server until stopped: its page, its data and what it said.
      if (command === "review") {
        const review = await startReview([], { cwd: root, apiUrl: emulator.url });
        outputs.push(`$ imagegen review\n${review.url}`, await (await fetch(review.url)).text(), await (await fetch(`${review.url}api/data`)).text());
        await review.stop();
        outputs.push(review.stderr());
        continue;
      }
      const args = command === "cache" ? ["cache", "prune"] : [command];
      await run(args);
      await run([...args, "--json"]);
    }
    expect(emulator.requests).toHaveLength(3);
    const lock = JSON.parse(await readFile(path.join(root, "imagegen.lock.json"), "utf8"));
    const key = Object.keys(lock.images)[0]!;
    await run(["generate", "--force", key]);
    // The review commands with an image to work on: each succeeds, so each said what it does.
    const codes: (number | null)[] = [];
    for (const args of [["reroll", key], ["approve", key, "--candidate", "3"], ["reroll", key], ["reject", key], ["check", "--markdown"]]) codes.push((await run(args)).code);
    expect(codes).toEqual([0, 0, 0, 0, 0]);
    // A failure that quotes the key back.
    emulator.injectFault({ kind: "status", status: 403, message: `key ${FAKE_API_KEY} has no credits left`, times: 5 });
    const failed = await run(["generate", "--force", key]);
    expect(failed.code).toBe(1);
    expect(failed.stdout + failed.stderr).toContain("[redacted]");

    expect(outputs.join("\n")).not.toContain(FAKE_API_KEY);
    // The config file holds it (the user wrote it there); nothing imagegen wrote does.
    expect(await leaks(root)).toEqual(["imagegen.config.mjs"]);
  });

  // SPEC §10: "No credential appears in any output, log, error or file." The remote store's fake
  // AWS credentials are looked for in everything a build and every CLI command said or wrote,
  // locally and in the remote, including when the server echoes the key id back in a 403.
  it("nor do the remote store's AWS credentials", { timeout: 120_000 }, async () => {
    const s3 = await startS3Server({ prefix: "secrets" });
    emulator.reset();
    const secrets = Object.values(FAKE_AWS);
    const shown: string[] = [];
    try {
      const root = await project();
      const env = s3.env();
      for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
      const log = captureLogger();
      try {
        await BUNDLERS.vite!(root, { root, apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: log.logger, strict: true });
        // A wrong secret: the server refuses the signature and echoes the key id.
        await rm(path.join(root, ".imagegen"), { recursive: true, force: true });
        await rm(path.join(root, "node_modules"), { recursive: true, force: true });
        vi.stubEnv("AWS_SECRET_ACCESS_KEY", "another-secret-that-is-wrong");
        const error = await BUNDLERS.vite!(root, { root, apiKey: FAKE_API_KEY, apiUrl: emulator.url, logger: log.logger, strict: true }).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(`${inspect(error, { depth: 20 })}`).toContain("HTTP 403 SignatureDoesNotMatch");
        shown.push(`${inspect(error, { depth: 20 })}\n${(error as Error).stack}`, ...log.lines);
      } finally {
        vi.unstubAllEnvs();
      }
      expect(s3.requests.filter((request) => request.status === 403).length).toBeGreaterThan(0);

      // The commands that talk to the remote (every command's output is covered above).
      for (const command of ["generate", "check", "push", "pull"]) {
        for (const extra of [[], ["--json"]]) {
          const result = await runCli([command, ...extra], { cwd: root, apiUrl: emulator.url, env });
          shown.push(result.stdout, result.stderr);
        }
      }
      const refused = await runCli(["pull"], { cwd: root, apiUrl: emulator.url, env: { ...env, AWS_SECRET_ACCESS_KEY: "another-secret-that-is-wrong" } });
      shown.push(refused.stdout, refused.stderr);

      for (const secret of secrets) {
        expect(shown.join("\n")).not.toContain(secret);
        expect(await filesContaining(root, secret)).toEqual([]);
      }
      const objects = await s3.list("secrets/");
      expect(objects.length).toBeGreaterThan(6);
      for (const key of objects) {
        const bytes = (await s3.read(key))!;
        for (const secret of secrets) expect(bytes.includes(secret), key).toBe(false);
      }
    } finally {
      await s3.close();
    }
  });

  // SPEC §14: an AI SDK model's key is the provider package's (GOOGLE_GENERATIVE_AI_API_KEY,
  // OPENAI_API_KEY): it goes in a header to the API and nowhere else, even when the API echoes it.
  it.each(["google", "openai"] as const)("nor does the %s API key of an AI SDK model, in a build, its bundle, the CLI or an error", { timeout: 120_000 }, async (api) => {
    const { key, keyVariable } = AI_SDK[api];
    const root = await reliabilityProject(MAIN, { "src/images.prompts.yaml": MANIFEST, "imagegen.config.ts": aiSdkConfig(api, emulator.url) });
    const shown: string[] = [];
    emulator.reset();
    vi.stubEnv(keyVariable, key);
    try {
      const log = captureLogger();
      await BUNDLERS.vite!(root, { root, logger: log.logger, strict: true });
      expect(emulator.requests).toHaveLength(3);
      expect((await listFiles(path.join(root, "dist"))).length).toBeGreaterThan(1);
      // The API echoes the key in its refusal: the build's error shows it redacted.
      emulator.injectFault({ kind: "status", status: 403, message: `the key ${key} is not allowed here`, times: 3, api });
      await writeFile(path.join(root, "src", "main.js"), importing("gen:a refused image?w=64"));
      const error = await BUNDLERS.vite!(root, { root, logger: log.logger, strict: true }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      const message = `${inspect(error, { depth: 20 })}\n${(error as Error).stack}`;
      expect(message).toContain('"the key [redacted] is not allowed here"');
      shown.push(message, ...log.lines);
    } finally {
      vi.unstubAllEnvs();
    }
    const env = { [keyVariable]: key };
    for (const args of [["generate"], ["generate", "--json"], ["check"], ["list", "--json"], ["report"]]) {
      const result = await runCli(args, { cwd: root, env });
      shown.push(result.stdout, result.stderr);
    }
    emulator.injectFault({ kind: "status", status: 401, message: `invalid key ${key}`, times: 3, api });
    const failed = await runCli(["generate", "--force", "harbour"], { cwd: root, env });
    expect(failed.code).toBe(1);
    expect(failed.stdout + failed.stderr).toContain("[redacted]");
    shown.push(failed.stdout, failed.stderr);

    expect(shown.join("\n")).not.toContain(key);
    expect(await filesContaining(root, key)).toEqual([]);
    // The emulator's record of each request redacts the header that carried the key.
    expect(JSON.stringify(emulator.requests)).not.toContain(key);
  });
});
