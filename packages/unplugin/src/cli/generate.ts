import { performance } from "node:perf_hooks";
import {
  type AuditedImage,
  type BudgetLimits,
  Engine,
  type Logger,
  type PlanRefusal,
  type Price,
  auditImages,
  checkPlan,
  formatMoney,
  formatPrice,
  formatTotal,
  needsGeneration,
  plannedGeneration,
  priceJson,
  pricesHint,
  totalJson,
  totalOf,
  truncate,
} from "@imagegen/core";
import { findImage } from "./image-target.js";
import { countRequests } from "./request-count.js";
import { type Output, count, locationJson, seconds } from "./output.js";
import { type Progress, createProgress } from "./progress.js";
import { type CommonFlags, openProject, reportDiscoveryErrors } from "./project.js";

export interface GenerateFlags extends CommonFlags {
  dryRun?: boolean;
  /** A manifest image name or a key (or a unique key prefix of 6+ characters). */
  force?: string;
  maxGenerations?: number;
  /** In the config's currency. */
  maxCost?: number;
}

type Outcome = "cached" | "downloaded" | "generated" | "failed";

/**
 * `imagegen generate`: makes every missing original (or re-rolls one with `--force`), with the
 * configured concurrency, through the same Engine as the plugin, so that the next build pays
 * nothing. Refuses before starting anything when the run could not finish as asked.
 */
export async function generateCommand(flags: GenerateFlags, out: Output): Promise<number> {
  const started = performance.now();
  let progress: Progress | undefined;
  const logger: Logger = {
    // The engine's "generated …" lines are replaced by the progress lines below.
    info: (message) => {
      if (!message.startsWith("generated ")) (progress?.log ?? out.note.bind(out))(message);
    },
    warn: (message) => (progress?.log ?? out.note.bind(out))(`warning: ${message}`),
  };
  const project = await openProject(flags, out, logger);
  const { options, discovery } = project;
  reportDiscoveryErrors(project, out);

  const audit = await auditImages(discovery.specs, { ...options, verifyBytes: false });
  const target = flags.force === undefined ? undefined : findImage(audit.images, flags.force, "--force");
  const work = target ? [target] : audit.images;
  const plan = target ? [target] : audit.images.filter(needsGeneration);
  const limits: BudgetLimits = {
    maxGenerations: flags.maxGenerations ?? options.maxGenerations,
    maxCost: flags.maxCost ?? options.maxCost,
    currency: options.currency,
  };
  const provider = options.provider;
  // What each image of the plan is expected to cost, and the whole plan (SPEC §14).
  const estimates = new Map(plan.map((image) => [image.key, plannedGeneration(image.spec, options).estimate]));
  const estimate = totalOf([...estimates.values()], options.currency);

  let refusal: string | undefined;
  const need = plan.length === 1 ? "needs" : "need";
  if (plan.length > 0) {
    if (options.frozen) {
      refusal = `${count(plan.length, "image")} ${plan.length === 1 ? "has" : "have"} no stored original and imagegen is frozen (--frozen or IMAGEGEN_FROZEN): nothing was generated.`;
    } else if (provider.persistent === false) {
      refusal = options.usingFallbackPlaceholder
        ? `${count(plan.length, "image")} ${need} generating but ONEMIN_API_KEY is not set: nothing was generated.`
        : provider.origin !== undefined
          ? `${count(plan.length, "image")} ${need} generating but ${provider.origin} is not the 1min.ai API, whose images are not kept: nothing was generated (set persistent: true or IMAGEGEN_PERSISTENT=1 to keep them).`
          : `${count(plan.length, "image")} ${need} generating but provider "${provider.id}" makes throwaway images that are never stored: nothing was generated.`;
    } else {
      const refused = checkPlan(
        plan.map((image) => ({ model: image.spec.generation.model, size: image.spec.generation.size, estimate: estimates.get(image.key) })),
        limits,
      );
      if (refused) refusal = `${count(plan.length, "image")} ${need} generating ${budgetProblem(refused, limits)}`;
    }
  }

  if (refusal || flags.dryRun) {
    const cached = audit.images.filter((image) => image.status === "ok" || image.status === "unlocked").length;
    if (flags.json) {
      out.json({
        ok: !refusal && discovery.errors.length === 0,
        dryRun: Boolean(flags.dryRun),
        ...(refusal && { refused: refusal }),
        wouldGenerate: plan.map((image) => planJson(out, image, estimates.get(image.key), options.currency)),
        estimate: totalJson(estimate),
        cached,
        apiRequests: 0,
        spent: totalJson(totalOf([], options.currency)),
        errors: discovery.errors.map((error) => out.clean(error.message)),
      });
    } else {
      const verb = target ? "re-roll" : "generate";
      if (plan.length > 0) {
        out.print(
          refusal
            ? `${count(plan.length, "image")} to ${verb}:`
            : `Would ${verb} ${count(plan.length, "image")} with ${provider.id} (concurrency ${options.concurrency}):`,
        );
        for (const image of plan) out.print(`  + ${planLine(out, image)} · ${formatPrice(estimates.get(image.key))}`);
        out.print(`Estimated cost: ${formatTotal(estimate)}${estimate.unknown > 0 ? ` (give the images without a price one in prices: docs/cost.md)` : ""}.`);
      } else {
        out.print("Nothing to generate: every image is stored.");
      }
      if (refusal) out.print(refusal);
      else out.print(`${cached} already stored. Nothing was generated (--dry-run).`);
    }
    return refusal || discovery.errors.length > 0 ? 1 : 0;
  }

  const engine = new Engine({ ...options, ...limits });
  const planned = new Set(plan.map((image) => image.key));
  progress = createProgress(out, plan.length);
  const stopOnInterrupt = () => {
    progress?.stop();
    out.note("Interrupted: what was generated is stored; run `imagegen generate` again to finish.");
    process.exit(130);
  };
  process.once("SIGINT", stopOnInterrupt);

  const results = await Promise.all(
    work.map(async (image): Promise<{ image: AuditedImage; outcome: Outcome; error?: string; price?: Price }> => {
      const begun = performance.now();
      try {
        const original = target ? await engine.reroll(image.spec) : await engine.resolveOriginal(image.spec);
        const recorded = async () => (await engine.store.readMeta(original.key, original.sha256).catch(() => undefined))?.price;
        if (!planned.has(image.key)) {
          if (image.status !== "missing") return { image, outcome: "cached", price: await recorded() };
          // Locked but not stored here: the engine reads it from the remote store into the store.
          await (original.ready ?? original.load)();
          return { image, outcome: "downloaded", price: await recorded() };
        }
        const price = await recorded();
        progress!.tick(
          `generated "${truncate(image.spec.prompt)}" ${original.width}×${original.height} in ${seconds(performance.now() - begun)}, ${formatPrice(price)} (${out.where(image.locations[0]!)})`,
        );
        return { image, outcome: "generated", price };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (planned.has(image.key)) progress!.tick(`failed: ${message}`);
        else progress!.log(`error: ${message}`);
        return { image, outcome: "failed", error: message };
      }
    }),
  );
  progress.stop();
  process.off("SIGINT", stopOnInterrupt);

  // The lock holds exactly the images in use (SPEC §4): an entry nothing uses is dropped, while its
  // original stays in the store and the remote, where a revert finds it by key and pays nothing.
  // Not while an import or manifest is invalid (its images would look unused), nor for one --force.
  const used = new Set(discovery.specs.map((spec) => spec.key));
  const unlocked = discovery.errors.length === 0 && !target ? await engine.retainInLock(used) : [];
  const notUploaded = engine.notUploaded;

  const tally = (outcome: Outcome) => results.filter((result) => result.outcome === outcome).length;
  const failed = tally("failed") + notUploaded.length;
  const elapsed = performance.now() - started;
  const { requests } = engine.stats;
  const spending = engine.spending;
  if (flags.json) {
    out.json({
      ok: failed === 0 && discovery.errors.length === 0,
      cached: tally("cached"),
      downloaded: tally("downloaded"),
      generated: tally("generated"),
      failed,
      notUploaded: notUploaded.map(({ key, prompt, problem }) => ({ key, prompt, problem })),
      apiRequests: requests,
      spent: totalJson(spending.spent),
      chargedFailures: spending.charged - spending.made,
      durationMs: Math.round(elapsed),
      removedFromLock: unlocked,
      images: results.map(({ image, outcome, error, price }) => ({
        key: image.key,
        prompt: image.spec.prompt,
        outcome,
        ...(outcome !== "failed" && { price: priceJson(price, options.currency) }),
        ...(error !== undefined && { error }),
        locations: image.locations.map((location) => locationJson(out, location)),
      })),
      errors: discovery.errors.map((error) => error.message),
    });
  } else {
    if (unlocked.length > 0) {
      const kept = options.remote ? `${out.relative(options.storeDir)}/ and ${options.remote.url}` : `${out.relative(options.storeDir)}/`;
      out.print(
        `Dropped ${count(unlocked.length, "unused image")} from ${out.relative(options.lockfilePath)}; ${unlocked.length === 1 ? "its original stays" : "their originals stay"} in ${kept}, where the same prompt finds ${unlocked.length === 1 ? "it" : "them"} again.`,
      );
    }
    for (const { prompt, problem } of notUploaded) out.print(`not uploaded: "${truncate(prompt)}": ${problem}`);
    if (notUploaded.length > 0) out.print(`${count(notUploaded.length, "image")} ${notUploaded.length === 1 ? "is" : "are"} stored and locked here but not in ${options.remote!.url}: run \`imagegen push\` once it is reachable.`);
    const errors = discovery.errors.length > 0 ? `, ${count(discovery.errors.length, "invalid import")}` : "";
    const notUp = notUploaded.length > 0 ? `, ${notUploaded.length} not uploaded` : "";
    const chargedFailures = spending.charged - spending.made;
    const charged = chargedFailures > 0 ? ` (with ${count(chargedFailures, "failed generation")} the API may have charged)` : "";
    out.print(
      `${tally("cached")} cached, ${tally("downloaded") > 0 ? `${tally("downloaded")} downloaded, ` : ""}${tally("generated")} generated, ${tally("failed")} failed${notUp}${errors} · ${count(requests, "API request")} · spent ${formatTotal(spending.spent)}${charged} · ${seconds(elapsed)}`,
    );
  }
  return failed > 0 || discovery.errors.length > 0 ? 1 : 0;
}

/** Why the budget refuses the plan, after "N images need generating", and how to allow it. */
function budgetProblem(refused: PlanRefusal, limits: BudgetLimits): string {
  const nothing = "nothing was generated";
  if (refused.limit === "maxGenerations") {
    return `but maxGenerations is ${limits.maxGenerations}: ${nothing}; raise maxGenerations (or --max-generations) to allow it.`;
  }
  if (refused.limit === "maxCost") {
    return `and would cost ${formatTotal(refused.total)}, but maxCost is ${formatMoney(limits.maxCost, limits.currency)}: ${nothing}; raise maxCost (or --max-cost) to allow it.`;
  }
  return `and maxCost is set, but some have no known price: ${nothing}; give them one in imagegen.config.ts, ${pricesHint(refused.unpriced)} (in ${limits.currency}; docs/cost.md).`;
}

function planLine(out: Output, image: AuditedImage): string {
  const more = image.locations.length > 1 ? ` (+${image.locations.length - 1} more)` : "";
  return `"${truncate(image.spec.generation.prompt)}" ${image.spec.generation.size}, key ${image.key}, ${out.where(image.locations[0]!)}${more}`;
}

function planJson(out: Output, image: AuditedImage, estimate: Price | undefined, currency: string) {
  return {
    key: image.key,
    prompt: image.spec.generation.prompt,
    size: image.spec.generation.size,
    status: image.status,
    estimate: priceJson(estimate, currency),
    locations: image.locations.map((location) => locationJson(out, location)),
  };
}
