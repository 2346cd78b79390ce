import { unpluginImagegen } from "../plugin/unplugin.js";

export default unpluginImagegen.rspack;
