// A Vite build of a project in its own process, as `vite build` would run it:
// `node build-child.mjs <root> [outDir]`. The key and API URL come from ONEMIN_API_KEY and
// ONEMIN_API_URL. Prints one JSON line: {"ok":true} or {"ok":false,"message":…}.
import { build } from "vite";
import imagegen from "unplugin-imagegen/vite";

const [root, outDir = "dist"] = process.argv.slice(2);
const lines = [];
try {
  await build({
    root,
    configFile: false,
    logLevel: "silent",
    build: { outDir, modulePreload: { polyfill: false } },
    plugins: [imagegen({ strict: true, retryDelayMs: 10, logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m) } })],
  });
  process.stdout.write(`${JSON.stringify({ ok: true, log: lines })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, message: error.errors?.[0]?.message ?? error.message, log: lines })}\n`);
  process.exitCode = 1;
}
