import { createUnplugin } from "unplugin";
import { type Placement, imagegenFactory } from "./factory.js";

/** The plugin of every bundler with a framework's {@link Placement}; {@link unpluginImagegen} is the one without. */
export function createImagegenUnplugin(placement: Placement = {}) {
  return createUnplugin(imagegenFactory(placement));
}

/** Shared by every bundler entry; what differs per bundler is the `AssetOutput` its hooks pick. */
export const unpluginImagegen = createImagegenUnplugin();
