import node from "@astrojs/node";
import { defineConfig } from "astro/config";
import imagegen from "unplugin-imagegen/astro";

// Pages render on request (the node adapter's server); /about is prerendered at build time.
export default defineConfig({
  output: "server",
  adapter: node({ mode: "standalone" }),
  integrations: [imagegen()],
});
