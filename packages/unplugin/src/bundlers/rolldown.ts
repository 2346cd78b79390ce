import { unpluginImagegen } from "../plugin/factory.js";

export default unpluginImagegen.rolldown;
