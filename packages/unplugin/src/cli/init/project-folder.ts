import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../output.js";

export interface PackageJson {
  name?: string;
  type?: string;
  packageManager?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** The sections of package.json a package can be in, the ones `init` reads and writes. */
export const DEPENDENCY_SECTIONS = ["dependencies", "devDependencies"] as const;
export type DependencySection = (typeof DEPENDENCY_SECTIONS)[number];

/**
 * The project as `init` reads it: files by root-relative path (with `/`), each read at most once,
 * and its package.json. Nothing is written through here.
 */
export class ProjectFolder {
  readonly #texts = new Map<string, Promise<string | undefined>>();

  private constructor(
    readonly root: string,
    readonly packageJson: PackageJson,
  ) {}

  static async open(root: string): Promise<ProjectFolder> {
    const file = path.join(root, "package.json");
    const text = await readFile(file, "utf8").catch(() => undefined);
    if (text === undefined) throw new UsageError(`no package.json in ${root}: run init in a project's folder (or pass --root)`);
    let packageJson: PackageJson;
    try {
      packageJson = JSON.parse(text) as PackageJson;
    } catch (error) {
      throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    const project = new ProjectFolder(root, packageJson);
    project.#texts.set("package.json", Promise.resolve(text));
    return project;
  }

  /** The file's text, or `undefined` when there is no such file. */
  read(file: string): Promise<string | undefined> {
    let text = this.#texts.get(file);
    if (!text) {
      text = readFile(this.absolute(file), "utf8").catch(() => undefined);
      this.#texts.set(file, text);
    }
    return text;
  }

  async exists(file: string): Promise<boolean> {
    if ((await this.read(file)) !== undefined) return true;
    return stat(this.absolute(file)).then(() => true, () => false);
  }

  /** The first of `files` that exists. */
  async first(files: readonly string[]): Promise<string | undefined> {
    const found = await Promise.all(files.map((file) => this.exists(file)));
    return files[found.indexOf(true)];
  }

  /** The names in a folder (`""`: the root); none for a folder that does not exist. */
  list(dir: string): Promise<string[]> {
    return readdir(this.absolute(dir)).catch(() => []);
  }

  absolute(file: string): string {
    return path.join(this.root, ...file.split("/"));
  }

  /** The section of package.json that lists `name`, if one does. */
  sectionOf(name: string): DependencySection | undefined {
    return DEPENDENCY_SECTIONS.find((section) => this.packageJson[section]?.[name] !== undefined);
  }

  /** A TypeScript project: a tsconfig.json, or TypeScript among its packages. */
  async isTypeScript(): Promise<boolean> {
    return this.sectionOf("typescript") !== undefined || (await this.exists("tsconfig.json"));
  }
}
