import type { ViteDevServer } from "vite";
import type { ReviewServer } from "./review-server.js";

/** Where Vite's dev server serves the review page, under `base` (as `/__inspect/` and Vitest UI are). */
export const REVIEW_URL_PATH = "__imagegen/";

/** Serves the review page at `<base>__imagegen/` of a Vite dev server, and says where it is once listening. */
export function attachReviewPage(server: ViteDevServer, review: ReviewServer, prefix: string, log: (message: string) => void): void {
  server.middlewares.use((req, res, next) => {
    const url = req.url?.split("?")[0];
    if (url === prefix.slice(0, -1)) {
      // Relative URLs of the page (its script, images, actions) need the trailing slash.
      res.statusCode = 302;
      res.setHeader("Location", prefix);
      res.end();
      return;
    }
    if (!url?.startsWith(prefix)) return next();
    let route: string;
    try {
      route = decodeURIComponent(url.slice(prefix.length));
    } catch {
      res.statusCode = 400;
      res.end();
      return;
    }
    review.handle(req, res, route).catch(next);
  });
  server.httpServer?.once("listening", () => {
    const address = server.httpServer?.address();
    if (typeof address === "object" && address) log(`review the images at http://localhost:${address.port}${prefix}`);
  });
}
