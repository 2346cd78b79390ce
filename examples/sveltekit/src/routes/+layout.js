// adapter-static: every page is rendered at build time.
export const prerender = true;
