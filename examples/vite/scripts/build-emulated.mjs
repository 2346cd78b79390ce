// Builds the example end to end, offline: a local emulator of the 1min.ai API stands in for the
// real one. The first build generates what the store lacks; the second must make no request.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator } from "@imagegen/emulator";
import sharp from "sharp";
import { build } from "vite";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const emulator = await startEmulator();
process.env.ONEMIN_API_URL = emulator.url;
// A fake key: the emulator accepts any key, and the real API is never reached from here.
process.env.ONEMIN_API_KEY = "imagegen-example-fake-key";
// What the emulator makes is throwaway unless asked: kept here (in .imagegen-emulated/, see
// imagegen.config.ts), so that the second build pays nothing, as it would against the real API.
process.env.IMAGEGEN_PERSISTENT = "1";

try {
  for (const label of ["first build", "second build"]) {
    const before = emulator.requests.length;
    const started = performance.now();
    await build({ root, logLevel: "warn" });
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    console.log(`${label}: ${seconds}s, ${emulator.requests.length - before} API request(s) to the emulator`);
  }
  if (emulator.requests.length > 0 && emulator.requests.length !== new Set(emulator.requests.map((r) => JSON.stringify(r.body))).size) {
    throw new Error("the same image was requested twice");
  }

  const assets = path.join(root, "dist", "assets");
  console.log(`\nImages in ${path.relative(process.cwd(), assets) || assets}:`);
  for (const name of (await readdir(assets)).filter((n) => /\.(avif|webp|jpg|png)$/.test(n)).sort()) {
    const file = path.join(assets, name);
    const { width, height, format, compression } = await sharp(file).metadata();
    // sharp names AVIF by its container, HEIF; the codec tells them apart.
    const shown = compression === "av1" ? "avif" : format;
    console.log(`  ${name.padEnd(56)} ${shown.padEnd(5)} ${`${width}×${height}`.padStart(9)} ${((await stat(file)).size / 1024).toFixed(1).padStart(7)} KiB`);
  }
  console.log(`\nOpen it: npx pnpm@10.34.8 --filter imagegen-example-vite preview`);
} finally {
  await emulator.close();
}
