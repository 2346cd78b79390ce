import { realpathSync } from "node:fs";
import path from "node:path";
import {
  type ImageOptions,
  type ImageSpec,
  type KeyOptions,
  type ResolvedOptions,
  ImagegenError,
  ProjectFileVerdicts,
  relativeInside,
  originalKey,
  resolveSpec,
} from "@imagegen/core";

const KEY_OPTIONS = ["model", "defaults", "styles"] as const satisfies (keyof KeyOptions)[];

/**
 * Where the build would see an image that the CLI (`imagegen generate`, `check`, `prune`) does not:
 * a `gen:` import or a manifest in a file outside `sources`/`manifests` (or ignored), or plugin
 * options that give an image another key than the config file alone. Each is warned about once,
 * naming the file or the option and the fix, since `check` would pass while the build pays.
 */
export function createCliAgreement() {
  const warned = new Set<string>();
  let pending: Promise<void>[] = [];
  // The files checked in this build: the 2,000 images of one manifest are one check.
  let checked = new Set<string>();
  // One per resolved options (a dev server's restart resolves them anew), remembered between builds.
  const verdicts = new WeakMap<ResolvedOptions, ProjectFileVerdicts>();
  const verdictsFor = (options: ResolvedOptions) => {
    let known = verdicts.get(options);
    if (!known) verdicts.set(options, (known = new ProjectFileVerdicts(options)));
    return known;
  };
  const used = new Set<ProjectFileVerdicts>();
  // The key options in which the plugin's differ from the config file's: the same for every image of one options.
  const differingOptions = new WeakMap<ResolvedOptions, (typeof KEY_OPTIONS)[number][]>();

  const warnOnce = (options: ResolvedOptions, topic: string, message: string) => {
    if (warned.has(topic)) return;
    warned.add(topic);
    options.logger.warn(message);
  };

  return {
    /**
     * Checks one image the plugin resolved: the file it comes from (the importer of a `gen:` id,
     * or a manifest) and its key. The file check runs beside the build, never delaying an image;
     * {@link settle} waits for it.
     */
    checkImage(image: ImageOptions, spec: ImageSpec, options: ResolvedOptions, kind: "sources" | "manifests"): void {
      checkKey(image, spec, options);
      const file = `${kind}\0${spec.source.file}`;
      if (checked.has(file)) return;
      checked.add(file);
      pending.push(checkFile(spec.source.file, kind, options).catch(() => {}));
    },

    /**
     * Waits for the file checks started so far (at the end of a build, so that its warnings come
     * with it), and remembers their verdicts for the next build.
     */
    async settle(): Promise<void> {
      const started = pending;
      pending = [];
      checked = new Set();
      await Promise.all(started);
      const saving = [...used];
      used.clear();
      await Promise.all(saving.map((known) => known.save().catch(() => {})));
    },
  };

  /** Warns when `file` (the importer of a `gen:` id, or a manifest) is not a file the CLI reads. */
  async function checkFile(file: string, kind: "sources" | "manifests", options: ResolvedOptions): Promise<void> {
    // A `gen:` id without an importer (an entry) is located at the root itself: no file to check.
    if (file === options.root || !path.isAbsolute(file) || warned.has(file)) return;
    const relative = relativeToRoot(options.root, file);
    const relativeName = relative ?? file;
    if (relative !== undefined) {
      const known = verdictsFor(options);
      used.add(known);
      if (await known.isProjectFile(relative)) return;
    }
    const what = kind === "sources" ? "imports an image" : "is a prompt manifest";
    const where =
      relative === undefined
        ? `is outside the project root ${options.root}`
        : `is not among the files the CLI reads (the \`${kind}\` globs ${options[kind].map((glob) => JSON.stringify(glob)).join(", ")}, less node_modules, build output and what .gitignore excludes)`;
    warnOnce(
      options,
      file,
      `${relativeName} ${what} but ${where}, so \`imagegen generate\` and \`imagegen check\` do not see its images. ` +
        `Fix: add it to \`${kind}\` in ${configName(options)}${relative === undefined ? ", or move it under the root" : ""}.`,
    );
  }

  /**
   * Warns when the plugin's own `model`, `defaults` or `styles` give an image another key than
   * the config file alone, which is what the CLI computes keys with.
   */
  function checkKey(image: ImageOptions, spec: ImageSpec, options: ResolvedOptions): void {
    const fromFile = options.configKeyOptions;
    let differing = differingOptions.get(options);
    if (!differing) {
      differing = KEY_OPTIONS.filter((name) => JSON.stringify(options[name]) !== JSON.stringify(fromFile[name]));
      differingOptions.set(options, differing);
    }
    if (differing.length === 0 || differing.every((name) => warned.has(`option:${name}`))) return;
    const keyWith = (context: KeyOptions): string | undefined => {
      try {
        // Inputs are the same on both sides: the key without them tells the difference.
        return originalKey({ ...resolveSpec(image, { ...context, source: spec.source }).generation, inputs: undefined });
      } catch (error) {
        if (error instanceof ImagegenError) return undefined; // e.g. a style only the plugin defines
        throw error;
      }
    };
    const pluginKey = keyWith(options);
    // The options that, taken back to the config file's value alone, change the key.
    for (const name of differing) {
      // The model comes with the aspects it makes natively; a provider's model is its `provider` option.
      const takenBack = name === "model" ? { model: fromFile.model, nativeAspects: fromFile.nativeAspects } : { [name]: fromFile[name] };
      if (keyWith({ ...options, ...takenBack }) === pluginKey) continue;
      const option = name === "model" && options.provider.model ? "provider" : name;
      warnOnce(
        options,
        `option:${name}`,
        `The plugin option \`${option}\` changes the key of "${spec.prompt}" (${formatSource(options.root, spec)}) from what ${configName(options)} alone gives, ` +
          `so \`imagegen generate\` and \`imagegen check\` (which read only the config file) see another image and would drop this one from the lock. ` +
          `Fix: move \`${option}\` from the plugin's options into ${configName(options)}.`,
      );
    }
  }
}

function configName(options: ResolvedOptions): string {
  return options.configFile ? path.basename(options.configFile) : "imagegen.config.ts (at the project root)";
}

function formatSource(root: string, spec: ImageSpec): string {
  const { file, line, column } = spec.source;
  const name = relativeToRoot(root, file) ?? file;
  return line === undefined ? name : `${name}:${line}:${column ?? 1}`;
}

/** `file` relative to the root (through symlinks too: the root's real path is asked only then), or undefined when it lies outside it. */
function relativeToRoot(root: string, file: string): string | undefined {
  return posixInside(root, file) ?? posixInside(realpath(root), file);
}

/** `file` below `base`, `/`-separated; `undefined` for `base` itself or outside it. */
function posixInside(base: string, file: string): string | undefined {
  const relative = relativeInside(base, file);
  return relative ? toPosix(relative) : undefined;
}

function realpath(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

function toPosix(file: string): string {
  return file.split(path.sep).join("/");
}
