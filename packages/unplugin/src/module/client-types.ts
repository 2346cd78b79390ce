/** The module of the plugin's TypeScript declarations (`client.d.ts`), referenced by generated manifest declarations. */
export const CLIENT_TYPES = "unplugin-imagegen/client";
