import { rollupPlugin } from "../plugin/rollup-family.js";

export default rollupPlugin;
