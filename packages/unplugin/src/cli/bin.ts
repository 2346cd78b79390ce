#!/usr/bin/env node
import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2));
// Exit now: a keep-alive socket or a timer left by a provider must not hold the shell.
process.stdout.write("", () => process.exit(code));
