import { ImagegenError } from "@imagegen/core";
import { type CAC, cac } from "cac";
import { cacheCommand } from "./cache.js";
import { type ApproveFlags, approveCommand } from "./approve.js";
import { type CheckFlags, checkCommand } from "./check.js";
import { type GenerateFlags, generateCommand } from "./generate.js";
import type { InitFlags } from "./init.js";
import { SETUP_NAMES, parseSetupName } from "./init/setup-names.js";
import { listCommand } from "./list.js";
import { Output, UsageError } from "./output.js";
import { packageVersion } from "./package-version.js";
import type { CommonFlags } from "./project.js";
import { type PruneFlags, pruneCommand } from "./prune.js";
import { pullCommand } from "./pull.js";
import { pushCommand } from "./push.js";
import { rejectCommand } from "./reject.js";
import { type ReportFlags, reportCommand } from "./report.js";
import { type RerollFlags, rerollCommand } from "./reroll.js";
import { type ReviewFlags, reviewCommand } from "./review.js";
import { typesCommand } from "./types.js";

/** Exit codes (SPEC §8): done and clean, failed or not clean, usage or config error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const COMMANDS = ["init", "generate", "check", "list", "prune", "report", "types", "push", "pull", "reroll", "approve", "reject", "review", "cache prune"];

/**
 * Runs `imagegen <command> …` and returns its exit code. Every message goes through `out`,
 * which keeps the API key out of it; a usage or config error is one line.
 */
export async function runCli(argv: string[], out = new Output()): Promise<number> {
  const cli = defineCommands();
  try {
    cli.parse(["node", "imagegen", ...argv], { run: false });
    if (cli.options.help || cli.options.version) return EXIT.ok;
    if (!cli.matchedCommand) {
      const [command] = cli.args;
      throw new UsageError(
        command === undefined
          ? `no command given; commands: ${COMMANDS.join(", ")}`
          : `unknown command "${command}"; commands: ${COMMANDS.join(", ")}`,
      );
    }
    return (await cli.runMatchedCommand()) as number;
  } catch (error) {
    if (error instanceof UsageError || (error instanceof Error && error.name === "CACError")) {
      const command = cli.matchedCommandName ? ` ${cli.matchedCommandName}` : "";
      out.note(`imagegen: ${firstLine(error.message)} (see \`imagegen${command} --help\`)`);
      return EXIT.usage;
    }
    if (error instanceof ImagegenError) {
      out.note(`imagegen: ${error.message}`);
      return EXIT.failed;
    }
    const internal = error instanceof Error ? (error.stack ?? error.message) : String(error);
    out.note(`imagegen: internal error: ${internal}`);
    return EXIT.failed;
  }

  function defineCommands(): CAC {
    const cli = cac("imagegen");
    cli
      .option("--root <dir>", "Project root (default: the nearest folder up from here with imagegen.config.*, imagegen.lock.json or package.json)")
      .option("--config <file>", "Config file (default: imagegen.config.{ts,mts,js,mjs} at the root)")
      .option("--concurrency <n>", "Generations at once (default: the config's, else 4)")
      .option("--frozen", "Never call a provider: a missing original is an error (also IMAGEGEN_FROZEN=1)")
      .option("--json", "Machine-readable output on stdout");

    cli
      .command("init", "Wire imagegen into this project: the plugin in the bundler's or framework's config, imagegen.config.ts, a sample manifest, .gitignore, tsconfig types and package.json (exit 1 if a config needs lines added by hand)")
      .option("--setup <name>", `The setup, when detection cannot tell or is wrong: ${SETUP_NAMES.join(", ")}`)
      .option("--remote <url>", "Keep originals in a remote store (s3://bucket/prefix): sets remote in imagegen.config.ts and ignores .imagegen/ (default: commit .imagegen/ and the lock)")
      .option("--dry-run", "Print the changes as a unified diff on stdout; write nothing")
      .example("imagegen init --dry-run")
      .example("imagegen init --setup vite --remote s3://my-bucket/imagegen/my-site")
      .action(async (options: Record<string, unknown>) => {
        const setup = stringFlag(cli, "setup");
        const flags: InitFlags = {
          ...optional("root", stringFlag(cli, "root")),
          ...(options.json === true && { json: true }),
          ...(options.dryRun === true && { dryRun: true }),
          ...optional("setup", setup === undefined ? undefined : parseSetupName(setup)),
          ...optional("remote", stringFlag(cli, "remote")),
        };
        // magicast and the rest of init are loaded only for init.
        const { initCommand } = await import("./init.js");
        return initCommand(flags, out);
      });

    cli
      .command("generate", "Generate every missing image, update the store and the lock")
      .option("--dry-run", "Print what would be generated; spend nothing")
      .option("--force <name|key>", "Re-roll one image (a manifest image name or a key): a new original is pinned; the old one stays in the store")
      .option("--max-generations <n>", "The most paid generations this run may start (default: the config's maxGenerations)")
      .option("--max-cost <amount>", "The most this run may spend, in the config's currency (default: the config's maxCost)")
      .option("--prune-locked", "No longer needed: generate always drops lock entries that nothing uses (their originals stay in the stores)")
      .example("imagegen generate --dry-run")
      .example("imagegen generate --force hero")
      .action((options: Record<string, unknown>) => {
        const flags: GenerateFlags = {
          ...commonFlags(cli, options),
          ...(options.dryRun === true && { dryRun: true }),
          ...optional("force", stringFlag(cli, "force")),
          ...optional("maxGenerations", integerFlag(cli, "max-generations", 0)),
          ...optional("maxCost", amountFlag(cli, "max-cost")),
        };
        return generateCommand(flags, out);
      });

    cli
      .command(
        "check",
        'Report missing, stale, unlocked and unpushed images without calling any provider, and with review: "required" unapproved ones (exit 1 if any); unused and pending ones are noted',
      )
      .option("--markdown", "Print a Markdown summary (new, changed, pending, unreviewed images) for $GITHUB_STEP_SUMMARY or a pull-request comment")
      .option("--base <ref|file>", "The lock to compare with for --markdown: a git ref (origin/main) or a lockfile")
      .example("imagegen check --markdown --base origin/main >> \"$GITHUB_STEP_SUMMARY\"")
      .action((options: Record<string, unknown>) => {
        const flags: CheckFlags = { ...commonFlags(cli, options), ...(options.markdown === true && { markdown: true }), ...optional("base", stringFlag(cli, "base")) };
        return checkCommand(flags, out);
      });

    cli
      .command("reroll <name|key>", "Make new candidates of one image (paid generations); it is pending until one is approved, the lock keeps its pin")
      .option("--n <count>", "How many new candidates (default: 1)")
      .option("--max-generations <n>", "The most paid generations this run may start (default: the config's maxGenerations)")
      .example("imagegen reroll hero --n 3")
      .action((target: string, options: Record<string, unknown>) => {
        const flags: RerollFlags = {
          ...commonFlags(cli, options),
          target: positional(cli, "reroll", target),
          ...optional("n", integerFlag(cli, "n", 1)),
          ...optional("maxGenerations", integerFlag(cli, "max-generations", 0)),
        };
        return rerollCommand(flags, out);
      });

    cli
      .command("approve [name|key]", "Approve an image: the lock pins the candidate and records its approval (--candidate n picks another)")
      .option("--candidate <n|sha256>", "The candidate to approve: its number as `imagegen reroll` and `imagegen review` list them, or a sha256 prefix")
      .option("--all", "Approve every unreviewed image in use that is not pending")
      .example("imagegen approve hero --candidate 2")
      .action((target: string | undefined, options: Record<string, unknown>) => {
        const flags: ApproveFlags = {
          ...commonFlags(cli, options),
          ...optional("target", target === undefined ? undefined : positional(cli, "approve", target)),
          ...optional("candidate", stringFlag(cli, "candidate")),
          ...(options.all === true && { all: true }),
        };
        return approveCommand(flags, out);
      });

    cli
      .command("reject <name|key>", "Decline an image's pending candidates (the pin stays), or withdraw its approval when none is pending")
      .action((target: string, options: Record<string, unknown>) => rejectCommand({ ...commonFlags(cli, options), target: positional(cli, "reject", target) }, out));

    cli
      .command("review", "Serve the review page on 127.0.0.1 (a free port; prints the URL) until Ctrl-C: compare candidates, approve, re-roll")
      .option("--port <port>", "Port to listen on (default: a free one)")
      .option("--host <address>", "Address to listen on (default: 127.0.0.1); beyond loopback the page is read-only")
      .option("--open", "Open the page in the default browser")
      .action((options: Record<string, unknown>) => {
        const flags: ReviewFlags = {
          ...commonFlags(cli, options),
          ...optional("port", integerFlag(cli, "port", 0)),
          ...optional("host", stringFlag(cli, "host")),
          ...(options.open === true && { open: true }),
        };
        return reviewCommand(flags, out);
      });

    cli
      .command("list", "A table of every image: where it is used, key, status, size")
      .action((options: Record<string, unknown>) => listCommand(commonFlags(cli, options), out).then(() => EXIT.ok));

    cli
      .command("prune [...keys]", "Remove store entries that nothing uses; locked ones only by key or with --prune-locked")
      .option("--dry-run", "Print what would be removed; remove nothing")
      .option("--prune-locked", "Also remove entries that imagegen.lock.json pins (originals that were paid for)")
      .example("imagegen prune --dry-run")
      .example("imagegen prune 3f9a1c2b7d")
      .action((keys: string[], options: Record<string, unknown>) => {
        const flags: PruneFlags = {
          ...commonFlags(cli, options),
          ...(options.dryRun === true && { dryRun: true }),
          ...(options.pruneLocked === true && { pruneLocked: true }),
          keys: keys.map(String),
        };
        return pruneCommand(flags, out);
      });

    cli
      .command("report", "Write the review page read-only as static files: every image with every candidate, its prompt and parameters")
      .option("--out <dir>", "Folder of the page (default: imagegen-report at the root)")
      .action((options: Record<string, unknown>) => {
        const flags: ReportFlags = { ...commonFlags(cli, options), ...optional("out", stringFlag(cli, "out")) };
        return reportCommand(flags, out);
      });

    cli
      .command("types", "Write x.prompts.yaml.d.ts beside each manifest, declaring its exports")
      .action((options: Record<string, unknown>) => typesCommand(commonFlags(cli, options), out));

    cli
      .command("push", "Upload every original of the store that the remote store lacks, with its key's index (exit 1 if any failed)")
      .option("--repair", "Also download every original on the remote and replace those whose bytes do not match their sha256")
      .action((options: Record<string, unknown>) => pushCommand({ ...commonFlags(cli, options), ...(options.repair === true && { repair: true }) }, out));

    cli
      .command("pull", "Download every locked original in use that the local store lacks from the remote store (exit 1 if any failed)")
      .action((options: Record<string, unknown>) => pullCommand(commonFlags(cli, options), out));

    cli
      .command("cache <action>", "cache prune: trim the derived cache to cacheMaxBytes, least recently used renditions first")
      .action((action: string, options: Record<string, unknown>) => cacheCommand(action, commonFlags(cli, options), out));

    // A command's own help says what it does, not only its options.
    cli.help((sections) => {
      const command = cli.matchedCommand;
      if (command?.description) sections.splice(2, 0, { body: command.description });
    });
    cli.version(packageVersion());
    return cli;
  }
}

function commonFlags(cli: CAC, options: Record<string, unknown>): CommonFlags {
  return {
    ...optional("root", stringFlag(cli, "root")),
    ...optional("config", stringFlag(cli, "config")),
    ...optional("concurrency", integerFlag(cli, "concurrency", 1)),
    ...(options.frozen === true && { frozen: true }),
    ...(options.json === true && { json: true }),
  };
}

/**
 * A positional argument as typed: cac turns number-like ones into numbers, which would change a
 * key such as `0123…`; the raw argument after the command's name is used instead.
 */
function positional(cli: CAC, command: string, parsed: string | number): string {
  if (typeof parsed === "string") return parsed;
  const args = cli.rawArgs.slice(2);
  const at = args.indexOf(command);
  const raw = args.slice(at + 1).find((arg) => !arg.startsWith("-") && String(Number(arg)) === String(parsed));
  return raw ?? String(parsed);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * The value of `--name <value>` exactly as typed. cac (through mri) turns number-like values into
 * numbers, which would change a key such as `0123…` or `1e40…`; the raw argument is used instead.
 */
function stringFlag(cli: CAC, name: string): string | undefined {
  let value: string | undefined;
  const args = cli.rawArgs.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") break;
    if (arg === `--${name}`) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("-")) throw new UsageError(`--${name} needs a value`);
      value = next;
      i++;
    } else if (arg.startsWith(`--${name}=`)) {
      value = arg.slice(name.length + 3);
    }
  }
  if (value === "") throw new UsageError(`--${name} needs a value`);
  return value;
}

function integerFlag(cli: CAC, name: string, min: number): number | undefined {
  const raw = stringFlag(cli, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min} (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

function amountFlag(cli: CAC, name: string): number | undefined {
  const raw = stringFlag(cli, name);
  if (raw === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new UsageError(`--${name} must be an amount, 0 or more, such as 2.50 (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}
