import { BUILT_IN_DEFAULTS } from "../spec/resolve-spec.js";
import type { InputImage } from "../spec/spec.js";
import { type AiSdkImageFile, type AiSdkImageModel, aiSdkModelName } from "./ai-sdk-model.js";
import { toProviderError } from "./ai-sdk-errors.js";
import { modelTraits } from "./ai-sdk-traits.js";
import { reportedCost } from "./ai-sdk-usage.js";
import { readInputFile } from "./input-file.js";
import { ProviderError, type GenerationRequest, type Provider } from "./provider.js";

export interface AiSdkProviderOptions {
  /** Where the model's warnings go, each distinct one once per run. */
  logger: { warn(message: string): void };
  /**
   * Values no message may show (API keys the provider package reads from the environment).
   * @default []
   */
  secrets?: readonly string[];
}

/** Models that take input images, for the message of one that does not. */
const EDITING_MODELS = "google:gemini-3-pro-image or openai:gpt-image-1.5";

/**
 * An AI SDK image model (`google.image("gemini-3-pro-image")`) as a provider (SPEC §14), called
 * through its own `doGenerate`: one image per call, the last one returned (Gemini may send interim
 * ones first). `doGenerate` never retries (the AI SDK's `generateImage` does, and is not called), so
 * every retry is imagegen's and a failure maps to a `ProviderError`. The model is named
 * `<provider>:<modelId>` in keys; `size`, native aspects and input images are asked as
 * {@link modelTraits} says the model takes them.
 */
export function createAiSdkProvider(model: AiSdkImageModel, options: AiSdkProviderOptions): Provider {
  const name = aiSdkModelName(model);
  const traits = modelTraits(name.slice(0, name.indexOf(":")), model.modelId);
  const secrets = options.secrets ?? [];
  const warned = new Set<string>();
  const warnOnce = (message: string) => {
    if (warned.has(message)) return;
    warned.add(message);
    options.logger.warn(message);
  };

  return {
    id: name,
    persistent: true,
    model: { name, nativeAspects: traits.aspects },
    async generate(request, { signal, paid }) {
      checkRequest(request, name, traits);
      if (!traits.known) {
        warnOnce(`imagegen knows no sizes, aspects or inputs of ${name}: it is asked for its default size (as 1K), aspect is a crop, and edit/ref files are sent as they are.`);
      }
      warnDropped(request, name, warnOnce);
      const files = await inputFiles(model, traits.maxInputs, request.inputs);
      let result;
      try {
        result = await model.doGenerate({
          prompt: request.prompt,
          n: 1,
          seed: undefined,
          ...traits.ask(request.size, request.aspect),
          ...(model.specificationVersion === "v2" ? {} : { files, mask: undefined }),
          abortSignal: signal,
        });
      } catch (error) {
        // The caller owns aborts (a timeout, the build stopping): hand back its own reason.
        if (signal.aborted) throw signal.reason;
        throw toProviderError(error, name, secrets);
      }
      for (const warning of result.warnings ?? []) warnOnce(describeWarning(name, warning));
      const last = result.images.at(-1);
      if (last === undefined) {
        const retryable = result.isRetryable === true;
        throw new ProviderError(`the model answered without an image${retryable ? "" : " (it declined the prompt)"}`, { retryable });
      }
      // The image has been made and paid for: nothing after this point asks for it again.
      paid?.();
      return { bytes: typeof last === "string" ? Buffer.from(last, "base64") : last, ...reportedCost(result) };
    },
  };
}

/** A size, aspect or model the model cannot make fails before any request, naming what it can. */
function checkRequest(request: GenerationRequest, name: string, traits: ReturnType<typeof modelTraits>): void {
  const fail = (message: string) => {
    throw new ProviderError(message, { retryable: false });
  };
  if (request.model !== name) {
    fail(`model "${request.model}" is not the model of this provider (${name}): leave model out, or set it to "${name}"`);
  }
  if (!traits.sizes.includes(request.size)) {
    fail(`size=${request.size} is not a size it makes; it makes ${traits.sizes.join(", ")}`);
  }
  if (request.aspect !== undefined && !traits.aspects.includes(request.aspect)) {
    fail(`aspect ${request.aspect} is not an aspect it makes natively; it makes ${traits.aspects.join(", ") || "none"}`);
  }
}

/** temperature and topP have no place in the AI SDK's image interface: a value other than the default is dropped, and said so. */
function warnDropped(request: GenerationRequest, name: string, warn: (message: string) => void): void {
  for (const field of ["temperature", "topP"] as const) {
    if (request[field] === BUILT_IN_DEFAULTS[field]) continue;
    warn(`${field}=${request[field]} is not sent to ${name}: its AI SDK image model takes no ${field} (the key still includes it).`);
  }
}

/** The edited image, then the references, as the model's input files; a model that takes none fails in one line. */
async function inputFiles(
  model: AiSdkImageModel,
  maxInputs: number | undefined,
  inputs: InputImage[] | undefined,
): Promise<AiSdkImageFile[] | undefined> {
  if (!inputs?.length) return undefined;
  const what = inputs.map((input) => `${input.role}=${input.written}`).join(", ");
  const refuse = (why: string) => {
    throw new ProviderError(`it ${why}, so ${what} cannot be sent; use a model that edits, such as ${EDITING_MODELS}`, { retryable: false });
  };
  if (model.specificationVersion === "v2") refuse("is an AI SDK v2 image model (no input images: a v3 provider package takes them)");
  if (maxInputs === 0 || (model.specificationVersion === "v4" && (await model.supportsFileInputs) === false)) refuse("takes no input images");
  if (maxInputs !== undefined && inputs.length > maxInputs) refuse(`takes at most ${maxInputs} input images`);
  const files = await Promise.all(inputs.map(readInputFile));
  return files.map(({ bytes, type }) => ({ type: "file", mediaType: type, data: bytes }));
}

/** A model's warning as one line: V3 `unsupported`/`compatibility`/`other`, V2 `unsupported-setting`. */
function describeWarning(name: string, warning: unknown): string {
  const { type, feature, setting, details, message } = (warning ?? {}) as Record<string, unknown>;
  const detail = typeof details === "string" && details !== "" ? `: ${details}` : "";
  if (type === "unsupported" || type === "unsupported-setting") return `${name} does not support ${String(feature ?? setting)}${detail}`;
  if (type === "compatibility") return `${name} uses ${String(feature)} in a compatibility mode${detail}`;
  return `${name}: ${typeof message === "string" ? message : JSON.stringify(warning)}`;
}
