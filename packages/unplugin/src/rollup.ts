import { unpluginImagegen } from "./factory.js";

export default unpluginImagegen.rollup;
