#!/usr/bin/env node
// The `imagegen` bin: committed, so that installing a clone that is not built yet links it too
// (pnpm links only files that exist). It runs the built CLI (`pnpm build` makes dist/).
import "../dist/cli.mjs";
