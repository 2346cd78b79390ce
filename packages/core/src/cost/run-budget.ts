import { ImagegenError } from "../errors.js";
import { type CostTotal, type Price, addPrice, emptyTotal, formatMoney, formatPrice, formatTotal, roundMoney } from "./price.js";

/** The two budgets of one run (SPEC §5, §14), in the project's currency. */
export interface BudgetLimits {
  maxGenerations: number;
  maxCost: number;
  currency: string;
}

/** Which budget refused a generation: the count, the money, or a price nobody knows while money is capped. */
export type BudgetLimit = "maxGenerations" | "maxCost" | "price";

/** A generation the run's budget does not allow; `detail` says why, for a message that names the image. */
export class BudgetRefusal extends ImagegenError {
  readonly limit: BudgetLimit;
  constructor(limit: BudgetLimit, detail: string) {
    super(detail);
    this.name = "BudgetRefusal";
    this.limit = limit;
  }
}

/** One generation's hold on the budget, from before its request until it settles. */
export interface Reservation {
  /** The API made the image: it cost `price` (`undefined`: unknown). */
  settle(price: Price | undefined): void;
  /** It failed after the API may have charged for it: its estimate counts as spent. */
  charged(): void;
  /** It failed before any charge: its money is free again (it still counts as a generation started). */
  release(): void;
  /** Nothing was asked of the API (another process had made the image): as if it never was. */
  cancel(): void;
}

/** What a run has spent so far. */
export interface Spending {
  /** Paid generations started (what `maxGenerations` counts), cancelled ones left out. */
  started: number;
  /** Generations that may have been charged: settled, or failed after the API accepted them. */
  charged: number;
  /** Of those, the ones that made an image. */
  made: number;
  /** Their prices (a failed one's estimate). */
  spent: CostTotal;
}

/**
 * The budget of one run: `maxGenerations` counts paid generations, `maxCost` their money. Each
 * generation reserves its estimate before its request and settles at the real price; what may have
 * been charged stays spent. The pre-run check of a plan goes through the same reservations.
 */
export class RunBudget {
  readonly limits: BudgetLimits;
  #started = 0;
  #charged = 0;
  #made = 0;
  /** Estimates of generations in flight. */
  #reserved = 0;
  #spent: CostTotal;

  constructor(limits: BudgetLimits) {
    this.limits = limits;
    this.#spent = emptyTotal(limits.currency);
  }

  /** Paid generations this run may still start (`maxGenerations` less those started). */
  get generationsLeft(): number {
    return this.limits.maxGenerations - this.#started;
  }

  get spending(): Spending {
    return { started: this.#started, charged: this.#charged, made: this.#made, spent: this.#spent };
  }

  /** Holds one generation's estimate, or throws a {@link BudgetRefusal} saying which budget it would break. */
  reserve(estimate: Price | undefined, model: string, size: string): Reservation {
    const { maxGenerations, maxCost, currency } = this.limits;
    if (this.#started >= maxGenerations) throw new BudgetRefusal("maxGenerations", `this run has reached maxGenerations (${maxGenerations})`);
    const capped = Number.isFinite(maxCost);
    if (capped && (!estimate || estimate.currency !== currency)) {
      throw new BudgetRefusal("price", `its price is unknown and maxCost is set: give it one in imagegen.config.ts, ${pricesHint({ [model]: [size] })} (docs/cost.md)`);
    }
    if (capped && this.#spent.unknown > 0) {
      throw new BudgetRefusal("price", `this run has spent an amount that is not known (${formatTotal(this.#spent)}) and maxCost is set`);
    }
    const amount = estimate?.currency === currency ? estimate.amount : 0;
    const committed = roundMoney(this.#spent.amount + this.#reserved);
    if (capped && roundMoney(committed + amount) > maxCost) {
      throw new BudgetRefusal(
        "maxCost",
        `it would cost ${formatPrice(estimate)} and this run has spent or reserved ${formatMoney(committed, currency)} of maxCost ${formatMoney(maxCost, currency)}`,
      );
    }
    this.#started++;
    this.#reserved = roundMoney(this.#reserved + amount);
    let open = true;
    const close = () => {
      if (!open) return false;
      open = false;
      this.#reserved = roundMoney(this.#reserved - amount);
      return true;
    };
    return {
      settle: (price) => {
        if (!close()) return;
        this.#charged++;
        this.#made++;
        this.#spent = addPrice(this.#spent, price);
      },
      charged: () => {
        if (!close()) return;
        this.#charged++;
        this.#spent = addPrice(this.#spent, estimate);
      },
      release: () => {
        close();
      },
      cancel: () => {
        if (close()) this.#started--;
      },
    };
  }
}

/** One image a run would pay for, with what it is expected to cost. */
export interface PlannedGeneration {
  model: string;
  size: string;
  estimate: Price | undefined;
}

/** Why a whole plan is refused before anything is paid: the budget that refused it, and the plan's figures for the message. */
export interface PlanRefusal {
  limit: BudgetLimit;
  /** What the plan would cost. */
  total: CostTotal;
  /** The sizes of each model that have no price. */
  unpriced: Record<string, string[]>;
}

/**
 * Whether a run may start the plan at all: every generation is reserved on a fresh budget, as the
 * run would reserve them, and the first refusal refuses the plan (SPEC §5: a run that needs more
 * than it may spend starts none).
 */
export function checkPlan(planned: PlannedGeneration[], limits: BudgetLimits): PlanRefusal | undefined {
  const budget = new RunBudget(limits);
  let total = emptyTotal(limits.currency);
  for (const image of planned) total = addPrice(total, image.estimate);
  for (const image of planned) {
    try {
      budget.reserve(image.estimate, image.model, image.size);
    } catch (error) {
      if (!(error instanceof BudgetRefusal)) throw error;
      const unpriced: Record<string, string[]> = {};
      for (const { model, size, estimate } of planned) {
        if (estimate?.currency === limits.currency) continue;
        const sizes = (unpriced[model] ??= []);
        if (!sizes.includes(size)) sizes.push(size);
      }
      return { limit: error.limit, total, unpriced };
    }
  }
  return undefined;
}

/** `prices: { "gemini-3-pro-image-preview": { "4K": … } }`: the config a model without a price needs. */
export function pricesHint(unpriced: Record<string, string[]>): string {
  const models = Object.entries(unpriced).map(([model, sizes]) => `${JSON.stringify(model)}: { ${[...sizes].sort().map((size) => `"${size}": …`).join(", ")} }`);
  return `prices: { ${models.join(", ")} }`;
}

/** What a run spent between two readings of its {@link Spending} (one build of a watch). */
export function spendingSince(before: Spending, now: Spending): Spending {
  const { spent } = now;
  return {
    started: now.started - before.started,
    charged: now.charged - before.charged,
    made: now.made - before.made,
    spent: {
      currency: spent.currency,
      amount: roundMoney(spent.amount - before.spent.amount),
      priced: spent.priced - before.spent.priced,
      unknown: spent.unknown - before.spent.unknown,
    },
  };
}

/** `2 generated, 1 downloaded · 3 API requests · spent $0.27`: what a run did that cost, or could have. */
export function spendingLine(spending: Spending, counts: { requests: number; downloaded: number }): string {
  const charged = spending.charged - spending.made;
  const made = [
    `${spending.made} generated`,
    ...(charged > 0 ? [`${charged} failed after the API may have charged`] : []),
    ...(counts.downloaded > 0 ? [`${counts.downloaded} downloaded`] : []),
  ];
  const requests = `${counts.requests} API ${counts.requests === 1 ? "request" : "requests"}`;
  return `${made.join(", ")} · ${requests} · spent ${formatTotal(spending.spent)}`;
}
