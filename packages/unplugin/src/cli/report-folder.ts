import { readdir, readFile, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { relativeInside, writeFileAtomic } from "@imagegen/core";
import { UsageError } from "./output.js";

/** Marks a folder as a report's, with the files the report wrote (paths relative to the folder). */
export const REPORT_MARKER = ".imagegen-report.json";

interface Marker {
  writtenBy: "imagegen report";
  files: string[];
}

export interface ReportFolder {
  /** Writes one file of the report (atomically), by its path relative to the folder. */
  write(file: string, bytes: string | Uint8Array): Promise<void>;
  /** Removes what the previous report wrote and this one did not, and records what this one wrote. */
  finish(): Promise<void>;
}

/**
 * The folder of `imagegen report --out`: a new or empty folder, or one a previous report wrote
 * (its marker lists the files). Anything else is refused, so that a report never deletes or
 * overwrites a file it did not write.
 */
export async function openReportFolder(dir: string): Promise<ReportFolder> {
  const info = await stat(dir).catch(() => undefined);
  if (info && !info.isDirectory()) throw new UsageError(`the report folder ${dir} is a file; give a folder (--out)`);
  const entries = info ? await readdir(dir) : [];
  const previous = entries.includes(REPORT_MARKER) ? await readMarker(dir) : await unmarkedReport(dir, entries);
  if (entries.length > 0 && !previous) {
    throw new UsageError(`the report folder ${dir} is not empty and holds no earlier report (no ${REPORT_MARKER}): give a new or empty folder (--out)`);
  }

  const written = new Set<string>();
  const record = (files: string[]) =>
    writeFileAtomic(path.join(dir, REPORT_MARKER), `${JSON.stringify({ writtenBy: "imagegen report", files: [...files].sort() } satisfies Marker, null, 2)}\n`);
  // Marked before the first file, so that a report killed halfway is still recognised as one.
  await record(previous?.files ?? []);

  return {
    async write(file, bytes) {
      await writeFileAtomic(path.join(dir, file), bytes);
      written.add(file);
    },
    async finish() {
      for (const file of previous?.files ?? []) {
        if (written.has(file)) continue;
        await unlink(path.join(dir, file)).catch(() => {});
        // A folder the report made, left empty (images/); never one that holds anything else.
        await rmdir(path.dirname(path.join(dir, file))).catch(() => {});
      }
      await record([...written]);
    },
  };
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const marker = JSON.parse(await readFile(path.join(dir, REPORT_MARKER), "utf8")) as Partial<Marker>;
    if (marker.writtenBy !== "imagegen report" || !Array.isArray(marker.files)) return undefined;
    // Only plain relative paths inside the folder: an edited marker cannot point elsewhere.
    const files = marker.files.filter(
      (file): file is string => typeof file === "string" && !path.isAbsolute(file) && relativeInside(dir, path.join(dir, file)) !== undefined,
    );
    return { writtenBy: "imagegen report", files };
  } catch {
    return undefined;
  }
}

/** A report written before reports were marked: index.html and images/[input-]<hex>.webp, nothing else. */
async function unmarkedReport(dir: string, entries: string[]): Promise<Marker | undefined> {
  if (!entries.includes("index.html") || entries.some((entry) => entry !== "index.html" && entry !== "images")) return undefined;
  const images = entries.includes("images") ? await readdir(path.join(dir, "images")).catch(() => undefined) : [];
  if (!images || images.some((name) => !/^(input-)?[0-9a-f]{20}\.webp$/.test(name))) return undefined;
  return { writtenBy: "imagegen report", files: ["index.html", ...images.map((name) => `images/${name}`)] };
}
