import { vitePlugin } from "../plugin/rollup-family.js";

export default vitePlugin;
