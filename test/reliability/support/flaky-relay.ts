import { type IncomingMessage, type ServerResponse, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

export interface FlakyRelay {
  /** Use as the API URL: the emulator hands out download URLs on this origin. */
  url: string;
  /** Image downloads that reached the relay, cut ones included. */
  downloads: number;
  close(): Promise<void>;
}

/**
 * A relay in front of the emulator that cuts the connection of the first `cut` image downloads,
 * like a flaky CDN; everything else passes through unchanged (the Host header too, so the
 * emulator's temporaryUrl points back at the relay).
 */
export async function startFlakyRelay(target: string, cut: number): Promise<FlakyRelay> {
  const upstream = new URL(target);
  const relay = { url: "", downloads: 0, close: async () => {} };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith("/files/")) {
      relay.downloads++;
      if (relay.downloads <= cut) {
        req.socket.destroy();
        return;
      }
    }
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  relay.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return relay;
}
