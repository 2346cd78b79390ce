import type { ViteDevServer } from "vite";
import type { DevHost, DevServer } from "./dev-server.js";

/**
 * Vite's dev server: the images are served by its middleware stack, a stored original reloads
 * the modules of its module graph through HMR, and a failure opens Vite's error overlay.
 */
export function attachToVite(dev: DevServer, server: ViteDevServer): void {
  server.middlewares.use(dev.middleware);
  const host: DevHost = {
    get root() {
      return server.config.root;
    },
    isLoaded(moduleId) {
      return Object.values(server.environments).some((environment) => {
        const module = environment.moduleGraph.getModuleById(moduleId);
        return module !== undefined && module.importers.size > 0;
      });
    },
    reload(moduleIds, hot) {
      let inBrowser = false;
      for (const environment of Object.values(server.environments)) {
        for (const id of moduleIds) {
          const module = environment.moduleGraph.getModuleById(id);
          if (!module) continue;
          // The browser re-imports the module (HMR, or a full reload where none accepts it).
          if (hot && environment.name === "client") {
            inBrowser = true;
            void environment.reloadModule(module);
          } else environment.moduleGraph.invalidateModule(module);
        }
      }
      // A module only the server renders (an Astro page without an island): the page is rendered again.
      if (hot && !inBrowser) server.ws.send({ type: "full-reload" });
    },
    reportError(error, spec) {
      const { file, line, column } = spec.source;
      server.ws.send({
        type: "error",
        err: {
          message: `[imagegen] ${error.message}`,
          stack: "",
          id: file,
          plugin: "unplugin-imagegen",
          ...(line !== undefined && { loc: { file, line, column: column ?? 1 } }),
        },
      });
    },
  };
  dev.attach(host);
}
