import http from "node:http";
import type { AddressInfo } from "node:net";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * An ordinary link on loopback: an HTTP front that forwards every request to `target` and paces
 * the bytes of every body, both ways, through one shared budget of `bytesPerSecond` (a home line
 * that all transfers share). Headers (Host included, so S3 signatures hold) pass as they are.
 */
export interface ThrottledLink {
  /** `http://127.0.0.1:<port>`: use it in place of the target's URL. */
  url: string;
  /** Bytes that went through, both ways. */
  bytes(): number;
  close(): Promise<void>;
}

const CHUNK = 16 * 1024;

export async function startThrottledLink(target: string, bytesPerSecond: number): Promise<ThrottledLink> {
  const to = new URL(target);
  let moved = 0;
  // One clock for every transfer: each chunk waits for the link to be free.
  let freeAt = performance.now();
  const pace = () =>
    new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
        const pieces: Buffer[] = [];
        for (let offset = 0; offset < chunk.length; offset += CHUNK) pieces.push(chunk.subarray(offset, offset + CHUNK));
        const next = () => {
          const piece = pieces.shift();
          if (!piece) return done();
          const now = performance.now();
          freeAt = Math.max(freeAt, now) + (piece.length / bytesPerSecond) * 1000;
          setTimeout(() => {
            moved += piece.length;
            this.push(piece);
            next();
          }, freeAt - now);
        };
        next();
      },
    });
  const sockets = new Set<import("node:net").Socket>();
  const server = http.createServer((req, res) => {
    const outgoing = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (incoming) => {
        res.writeHead(incoming.statusCode ?? 502, incoming.headers);
        pipeline(incoming, pace(), res).catch(() => res.destroy());
      },
    );
    outgoing.on("error", () => res.destroy());
    pipeline(req, pace(), outgoing).catch(() => outgoing.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes: () => moved,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
