import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { AwsV4Signer } from "aws4fetch";

const require = createRequire(import.meta.url);
// s3rver is CommonJS; its account registry holds the key pairs it accepts.
const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverInstance;
const { DUMMY_ACCOUNT } = require("s3rver/lib/models/account") as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } };

interface S3rverInstance {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  configureBuckets(): Promise<unknown>;
  store: { existsObject(bucket: string, key: string): Promise<boolean> };
}

/** Recognisable fake credentials: tests assert that they never show up anywhere. */
export const FAKE_AWS = {
  accessKeyId: "FAKEKEYID7Q2W9NEVERPRINT",
  secretAccessKey: "fake-secret-5b8e2a61-never-print-me",
  sessionToken: "fake-session-token-3c7d90-never-print-me",
};
const REGION = "eu-west-3";

export interface S3Request {
  method: string;
  /** The object key (no bucket), decoded. */
  key: string;
  status: number;
  signed: boolean;
}

export type S3Fault = "500" | "503" | "reset" | "hang";

export interface S3Server {
  /** The endpoint, for `AWS_ENDPOINT_URL_S3`. */
  endpoint: string;
  bucket: string;
  /** `s3://bucket/prefix` */
  remote: string;
  /** Every request that reached the server (faults included). */
  requests: S3Request[];
  /** The environment of a run that uses this remote, with the fake credentials. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Requests that wrote (PUT, POST, DELETE) since the last `reset()`. */
  writes(): S3Request[];
  reset(): void;
  /** The next `count` requests fail this way. */
  fail(count: number, fault: S3Fault): void;
  /** Drops the faults not used yet. */
  heal(): void;
  /** While on, every write is refused with 403 AccessDenied, as a bucket policy without s3:PutObject does. */
  refuseWrites(on: boolean): void;
  /** While on, a GET or HEAD of an absent object answers 403 AccessDenied, as S3 does under a policy without s3:ListBucket. */
  denyMissing(on: boolean): void;
  /** The next `count` writes of objects whose key contains `match` answer 409 ConditionalRequestConflict (a writer racing on the key). */
  conflict(count: number, match: string): void;
  /** While set, every request answers 301 PermanentRedirect naming this region, as S3 does for a bucket of another region. */
  movedTo(region: string | undefined): void;
  /** Reads, writes, lists and deletes objects directly (unsigned, not counted): the test's own hands. */
  read(key: string): Promise<Buffer | undefined>;
  write(key: string, bytes: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  list(prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A real S3-compatible server on loopback: s3rver (the S3 REST protocol, objects on disk), behind a
 * thin front that adds what s3rver lacks and real S3 does, so that imagegen's code path is the one
 * it takes against AWS, R2 or MinIO:
 * - s3rver accepts any SigV4 signature; the front recomputes each one with the fake secret and
 *   answers 403 SignatureDoesNotMatch when it differs;
 * - s3rver ignores `If-None-Match: *` and `If-Match`; the front answers 412 when the object exists,
 *   or when its ETag is not the one asked for.
 * It also counts requests and injects faults. Not covered: S3's payload-hash check of
 * `x-amz-content-sha256`, multipart uploads, and real network latency.
 */
export async function startS3Server(options: { bucket?: string; prefix?: string } = {}): Promise<S3Server> {
  const bucket = options.bucket ?? "imagegen-test";
  const prefix = options.prefix ?? "team/site";
  const directory = await mkdtemp(path.join(os.tmpdir(), "imagegen-s3-"));
  DUMMY_ACCOUNT.createKeyPair(FAKE_AWS.accessKeyId, FAKE_AWS.secretAccessKey);
  const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket }] });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();

  const requests: S3Request[] = [];
  let counted: S3Request[] = [];
  const faults: S3Fault[] = [];
  const hung = new Set<http.ServerResponse>();
  let origin = "";
  let writesRefused = false;
  let missingDenied = false;
  let movedRegion: string | undefined;
  const conflicts: string[] = [];

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", origin);
    const key = decodeURIComponent(url.pathname.split("/").slice(2).join("/"));
    const internal = req.headers["x-test-internal"] === "1";
    const record: S3Request = { method: req.method ?? "GET", key, status: 0, signed: "authorization" in req.headers };
    if (!internal) {
      requests.push(record);
      counted.push(record);
    }
    res.on("finish", () => (record.status = res.statusCode));
    const fault = internal ? undefined : faults.shift();
    if (fault === "reset") return req.socket.destroy();
    if (fault === "hang") return void hung.add(res);
    if (fault) req.resume();
    if (fault) return void res.writeHead(Number(fault), { "content-type": "application/xml" }).end(s3Error("InternalError", "We encountered an internal error."));
    if (!internal && record.signed && !(await signatureMatches(req))) {
      // As S3 does, the answer echoes the key id (imagegen must not print it).
      const keyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? "";
      const detail = `<AWSAccessKeyId>${keyId}</AWSAccessKeyId>`;
      return void res.writeHead(403, { "content-type": "application/xml" }).end(s3Error("SignatureDoesNotMatch", "The request signature we calculated does not match.", detail));
    }
    if (!internal && movedRegion) {
      req.resume();
      return void res
        .writeHead(301, { "content-type": "application/xml", "x-amz-bucket-region": movedRegion })
        .end(s3Error("PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint."));
    }
    if (!internal && writesRefused && req.method !== "GET" && req.method !== "HEAD") {
      req.resume();
      return void res.writeHead(403, { "content-type": "application/xml" }).end(s3Error("AccessDenied", "Access Denied"));
    }
    if (!internal && missingDenied && (req.method === "GET" || req.method === "HEAD") && !(await s3rver.store.existsObject(bucket, key))) {
      return void res.writeHead(403, { "content-type": "application/xml" }).end(req.method === "HEAD" ? undefined : s3Error("AccessDenied", "Access Denied"));
    }
    const racing = !internal && req.method === "PUT" ? conflicts.findIndex((match) => key.includes(match)) : -1;
    if (racing >= 0) {
      conflicts.splice(racing, 1);
      req.resume();
      return void res
        .writeHead(409, { "content-type": "application/xml" })
        .end(s3Error("ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource."));
    }
    const ifMatch = req.headers["if-match"];
    const precondition =
      req.method === "PUT" &&
      ((req.headers["if-none-match"] === "*" && (await s3rver.store.existsObject(bucket, key))) ||
        (typeof ifMatch === "string" && (await fetch(objectUrl(key), { method: "HEAD", headers: { "x-test-internal": "1" } })).headers.get("etag") !== ifMatch));
    if (precondition) {
      req.resume();
      return void res.writeHead(412, { "content-type": "application/xml" }).end(s3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"));
    }
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const objectUrl = (key: string) => `${origin}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  const internal = { "x-test-internal": "1" };

  return {
    endpoint: origin,
    bucket,
    remote: `s3://${bucket}/${prefix}`,
    requests,
    env: (extra = {}) => ({
      IMAGEGEN_REMOTE: `s3://${bucket}/${prefix}`,
      AWS_ENDPOINT_URL_S3: origin,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: FAKE_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_AWS.secretAccessKey,
      AWS_SESSION_TOKEN: FAKE_AWS.sessionToken,
      ...extra,
    }),
    writes: () => counted.filter((request) => request.method !== "GET" && request.method !== "HEAD"),
    reset: () => {
      counted = [];
    },
    fail: (count, fault) => faults.push(...Array.from({ length: count }, () => fault)),
    heal: () => faults.splice(0),
    refuseWrites: (on) => {
      writesRefused = on;
    },
    denyMissing: (on) => {
      missingDenied = on;
    },
    conflict: (count, match) => conflicts.push(...Array.from({ length: count }, () => match)),
    movedTo: (region) => {
      movedRegion = region;
    },
    async read(key) {
      const response = await fetch(objectUrl(key), { headers: internal });
      return response.ok ? Buffer.from(await response.arrayBuffer()) : undefined;
    },
    async write(key, bytes) {
      const response = await fetch(objectUrl(key), { method: "PUT", body: bytes, headers: internal });
      if (!response.ok) throw new Error(`PUT ${key}: ${response.status}`);
    },
    async remove(key) {
      await fetch(objectUrl(key), { method: "DELETE", headers: internal });
    },
    async list(listPrefix = prefix) {
      const keys: string[] = [];
      let marker = "";
      for (;;) {
        const response = await fetch(`${origin}/${bucket}?prefix=${encodeURIComponent(listPrefix)}&marker=${encodeURIComponent(marker)}`, { headers: internal });
        const xml = await response.text();
        const page = [...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((match) => match[1]!);
        keys.push(...page);
        if (!/<IsTruncated>true<\/IsTruncated>/.test(xml) || page.length === 0) return keys.sort();
        marker = page.at(-1)!;
      }
    },
    async close() {
      for (const res of hung) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Recomputes the request's SigV4 signature from the headers it signed and the fake secret. */
async function signatureMatches(req: http.IncomingMessage): Promise<boolean> {
  const authorization = String(req.headers.authorization);
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return false;
  const [, accessKeyId, region, signedHeaders, signature] = match;
  if (accessKeyId !== FAKE_AWS.accessKeyId) return false;
  const headers = new Headers();
  for (const name of signedHeaders!.split(";")) {
    if (name !== "host") headers.set(name, String(req.headers[name] ?? ""));
  }
  const signer = new AwsV4Signer({
    method: req.method,
    url: `http://${req.headers.host}${req.url}`,
    headers,
    accessKeyId: FAKE_AWS.accessKeyId,
    secretAccessKey: FAKE_AWS.secretAccessKey,
    ...(headers.has("x-amz-security-token") && { sessionToken: FAKE_AWS.sessionToken }),
    service: "s3",
    region: region!,
    datetime: String(req.headers["x-amz-date"]),
    // As S3 does: every header the request says it signed (aws4fetch's own signing leaves some out).
    allHeaders: true,
  });
  return (await signer.signature()) === signature;
}

function s3Error(code: string, message: string, detail = ""): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${detail}</Error>`;
}
