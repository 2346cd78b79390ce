export default defineNuxtConfig({
  compatibilityDate: "2026-01-01",
  modules: ["unplugin-imagegen/nuxt"],
  // /about is prerendered at build time (the same app.vue); / renders on request.
  routeRules: { "/about": { prerender: true } },
});
