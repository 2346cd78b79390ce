import { Engine, readLockfile, rejected } from "@imagegen/core";
import { findImage, nameOf } from "./image-target.js";
import { type Output, UsageError, count } from "./output.js";
import { type CommonFlags, openProject, quietLogger } from "./project.js";

export interface RejectFlags extends CommonFlags {
  target: string;
}

/**
 * `imagegen reject <name|key>`: declines an image's pending candidates (they stay in the stores,
 * the pin keeps its state); an image with none pending loses its approval, so that a required
 * review fails until another candidate is approved.
 */
export async function rejectCommand(flags: RejectFlags, out: Output): Promise<number> {
  const { options, discovery } = await openProject(flags, out, quietLogger);
  const image = findImage(discovery.specs, flags.target, "reject");
  const locked = (await readLockfile(options.lockfilePath)).images[image.key];
  if (!locked) throw new UsageError(`${nameOf(image)} is not locked yet: nothing to reject`);
  const engine = new Engine({ ...options, frozen: true });
  const { before, after } = await engine.lockPolicy.review(image.key, (entry) => (entry ? rejected(entry) : entry));
  const declined = before?.pending?.length ?? 0;
  const unapproved = before?.approved !== undefined && after?.approved === undefined;
  const message =
    declined > 0
      ? `declined ${count(declined, "pending candidate")} of ${nameOf(image)} (kept in the stores); the pinned one stays ${after?.approved === after?.sha256 ? "approved" : "unreviewed"}`
      : unapproved
        ? `withdrew the approval of ${nameOf(image)}: it is unreviewed until a candidate is approved (\`imagegen reroll\` makes new ones)`
        : `nothing to reject: ${nameOf(image)} is unreviewed and has no pending candidates`;
  if (flags.json) out.json({ ok: true, key: image.key, declined, unapproved });
  else out.print(message);
  return 0;
}
