#!/usr/bin/env node
import { parseArgs } from "node:util";
import { startEmulator } from "./server.js";

const USAGE = "Usage: imagegen-emulator [--port 0] [--host 127.0.0.1] [--latency ms] [--api-key key]";

function fail(message: string): never {
  process.stderr.write(`imagegen-emulator: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function number(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isInteger(parsed) || parsed < 0) fail(`--${name} must be a whole number (got "${value}")`);
  return parsed;
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
      latency: { type: "string" },
      "api-key": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const emulator = await startEmulator({
  port: number("port", args.port),
  host: args.host,
  latencyMs: number("latency", args.latency),
  apiKey: args["api-key"],
}).catch((error: unknown) => {
  process.stderr.write(`imagegen-emulator: cannot listen: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
// Tests and scripts parse this first line for the URL.
process.stdout.write(`imagegen emulator listening on ${emulator.url}\n`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => process.exit(0));
  });
}
