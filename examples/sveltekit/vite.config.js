import adapter from "@sveltejs/adapter-static";
import { sveltekit } from "@sveltejs/kit/vite";
import imagegen from "unplugin-imagegen/vite";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [
    imagegen(),
    // Every page is prerendered into build/, served under /sub; images sit beside Kit's hashed
    // assets in build/_app/immutable/assets/.
    sveltekit({ adapter: adapter(), paths: { base: "/sub" } }),
  ],
});
