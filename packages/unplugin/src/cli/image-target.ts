import { type AuditedImage, type DiscoveredSpec, truncate } from "@imagegen/core";
import { UsageError } from "./output.js";

/**
 * The one image in use that `wanted` names: a manifest image name, a key, or a key prefix of 6 or
 * more characters (`generate --force`, `reroll`, `approve`, `reject`). `what` names the argument in messages.
 */
export function findImage<T extends Pick<AuditedImage, "key" | "locations">>(images: T[], wanted: string, what: string): T {
  const matches = images.filter(
    (image) =>
      image.key === wanted ||
      (wanted.length >= 6 && image.key.startsWith(wanted)) ||
      image.locations.some((location) => location.name === wanted),
  );
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new UsageError(`${what} ${wanted}: no image in use has that manifest name or key; \`imagegen list\` shows them`);
  }
  throw new UsageError(`${what} ${wanted} matches ${matches.length} images (keys ${matches.map((m) => m.key).join(", ")}); give a key`);
}

/** `hero ("A lighthouse at dawn")`, or the prompt alone for an image no manifest names. */
export function nameOf(image: Pick<DiscoveredSpec, "spec" | "locations">): string {
  const name = image.locations.find((location) => location.name !== undefined)?.name;
  return name ? `${name} ("${truncate(image.spec.prompt, 40)}")` : `"${truncate(image.spec.prompt)}"`;
}
