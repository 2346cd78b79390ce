import imagegen from "unplugin-imagegen/vite";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [imagegen()],
});
