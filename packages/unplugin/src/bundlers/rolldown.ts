import { rolldownPlugin } from "../plugin/rollup-family.js";

export default rolldownPlugin;
