import type { GeneratedImage, TokenUsage } from "../generate/provider.js";
import { IMAGE_SIZES, type GenerationFields, type ImageSize } from "../spec/spec.js";
import { type TokenRates, tablePrice, tokenRates } from "./price-table.js";

/** imagegen's own figures (the table, token rates, a gateway's cost) are in this currency. */
export const USD = "USD";

/**
 * Where a price comes from, first match wins: the provider's own report of what it charged, its
 * reported token usage at the model's published rates, the config's `prices`, imagegen's table.
 */
export type PriceSource = "reported" | "usage" | "prices" | "table";

/** What one original cost (or, before it is made, is expected to cost). An unknown price is `undefined`, never 0. */
export interface Price {
  amount: number;
  /** `USD`, or the config's `currency` (`credits`). */
  currency: string;
  source: PriceSource;
}

/** The config's `prices`, resolved: model → size → price in `currency`. */
export type PriceList = Record<string, Partial<Record<ImageSize, number>>>;

/** How a project prices its images: its unit, and the prices it sets itself. */
export interface Pricing {
  currency: string;
  prices: PriceList;
}

/** The fields of a generation that decide its price. */
export type PricedGeneration = Pick<GenerationFields, "model" | "size" | "aspect">;

/**
 * What an image will cost before it is asked for: the config's price for its model and size, else
 * imagegen's table (dollars, so only when the project counts in dollars); `undefined` when unknown.
 */
export function estimatePrice(generation: PricedGeneration, pricing: Pricing): Price | undefined {
  const own = pricing.prices[generation.model]?.[generation.size];
  if (own !== undefined) return { amount: own, currency: pricing.currency, source: "prices" };
  if (pricing.currency !== USD) return undefined;
  const listed = tablePrice(generation.model, generation.size, generation.aspect);
  return listed === undefined ? undefined : { amount: listed, currency: USD, source: "table" };
}

/**
 * What a generation the API made cost: what the provider reported it charged, else its token usage
 * at the model's rates, else the estimate. A figure in another unit than the project's is skipped:
 * prices of one project add up, and `maxCost` compares them.
 */
export function recordedPrice(generation: PricedGeneration, image: Pick<GeneratedImage, "cost" | "usage">, pricing: Pricing): Price | undefined {
  if (image.cost && sameCurrency(image.cost.currency, pricing.currency)) {
    return { amount: roundMoney(image.cost.amount), currency: pricing.currency, source: "reported" };
  }
  const rates = pricing.currency === USD ? tokenRates(generation.model) : undefined;
  if (image.usage && rates) return { amount: usagePrice(image.usage, rates), currency: USD, source: "usage" };
  return estimatePrice(generation, pricing);
}

/** Tokens at dollars per million: input text and images, and output split into text (thinking included) and image. */
export function usagePrice(usage: TokenUsage, rates: TokenRates): number {
  const inputImage = usage.inputImageTokens ?? 0;
  // Without a split, every output token is priced as image: an answer of image models is mostly that, and never less.
  const outputImage = usage.outputImageTokens ?? usage.outputTokens;
  const perMillion =
    (usage.inputTokens - inputImage) * rates.inputText +
    inputImage * (rates.inputImage ?? rates.inputText) +
    (usage.outputTokens - outputImage) * (rates.outputText ?? rates.outputImage) +
    outputImage * rates.outputImage;
  return roundMoney(perMillion / 1_000_000);
}

function sameCurrency(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}

/** Sums of prices, kept to nine decimals so that 0.134 + 0.134 + 0.24 reads 0.508. */
export function roundMoney(amount: number): number {
  return Math.round(amount * 1e9) / 1e9;
}

/** `$0.134`, `$1,250.00`, `25,000 credits`. */
export function formatMoney(amount: number, currency: string): string {
  if (currency === USD) return `$${new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 4 }).format(amount)}`;
  return `${new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 }).format(amount)} ${currency}`;
}

/** A price as people read it; `unknown` when there is none. */
export function formatPrice(price: Price | undefined): string {
  return price ? formatMoney(price.amount, price.currency) : "unknown";
}

/** A price as `--json` gives it: the amount (`null` when unknown), its unit and source, and the text people read. */
export function priceJson(price: Price | undefined, currency: string) {
  return price
    ? { amount: price.amount, currency: price.currency, source: price.source, text: formatPrice(price) }
    : { amount: null, currency, source: "unknown" as const, text: "unknown" };
}

/** A sum of prices in one currency, and how many of them were unknown (the sum is then a lower bound). */
export interface CostTotal {
  currency: string;
  /** Sum of the known prices. */
  amount: number;
  /** How many prices the sum holds. */
  priced: number;
  /** How many had no price in this currency. */
  unknown: number;
}

export function emptyTotal(currency: string): CostTotal {
  return { currency, amount: 0, priced: 0, unknown: 0 };
}

/** The total with one more price in it; a price in another currency counts as unknown. */
export function addPrice(total: CostTotal, price: Price | undefined): CostTotal {
  if (!price || !sameCurrency(price.currency, total.currency)) return { ...total, unknown: total.unknown + 1 };
  return { ...total, amount: roundMoney(total.amount + price.amount), priced: total.priced + 1 };
}

export function totalOf(prices: (Price | undefined)[], currency: string): CostTotal {
  return prices.reduce(addPrice, emptyTotal(currency));
}

/** `$0.508`, `$0.27 + 1 unknown`, or `unknown` when nothing in it has a price. */
export function formatTotal(total: CostTotal): string {
  if (total.unknown > 0 && total.priced === 0) return "unknown";
  const money = formatMoney(total.amount, total.currency);
  return total.unknown > 0 ? `${money} + ${total.unknown} unknown` : money;
}

/** A total as `--json` gives it. */
export function totalJson(total: CostTotal) {
  return { amount: total.amount, currency: total.currency, priced: total.priced, unknown: total.unknown, text: formatTotal(total) };
}

/** What is wrong with a recorded price (the store's or the remote's metadata), or `undefined`. */
export function priceProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) return "is not an object";
  const { amount, currency, source } = value as Record<string, unknown>;
  if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) return '"amount" is not a number, 0 or more';
  if (typeof currency !== "string" || currency === "") return '"currency" is not a string';
  if (!["reported", "usage", "prices", "table"].includes(source as string)) return '"source" is not reported, usage, prices or table';
  return undefined;
}

/** The config's `prices` as given (a number for every size, or one per size), checked; the first problem, or the list. */
export function resolvePriceList(value: unknown): PriceList | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "must map model names to a price, or to { 1K, 2K, 4K } prices";
  const list: PriceList = {};
  const amount = (price: unknown) => typeof price === "number" && Number.isFinite(price) && price >= 0;
  for (const [model, prices] of Object.entries(value)) {
    if (amount(prices)) {
      list[model] = Object.fromEntries(IMAGE_SIZES.map((size) => [size, prices as number]));
      continue;
    }
    if (typeof prices !== "object" || prices === null || Array.isArray(prices)) {
      return `${JSON.stringify(model)} must be a price (a number, 0 or more) or { 1K, 2K, 4K } prices`;
    }
    for (const [size, price] of Object.entries(prices)) {
      if (!IMAGE_SIZES.includes(size as ImageSize)) return `${JSON.stringify(model)}: ${JSON.stringify(size)} is not a size; sizes are ${IMAGE_SIZES.join(", ")}`;
      if (!amount(price)) return `${JSON.stringify(model)}.${size} must be a number, 0 or more`;
    }
    list[model] = prices as Partial<Record<ImageSize, number>>;
  }
  return list;
}
