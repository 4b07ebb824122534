/** Switchyard's TypeScript client.
 *
 * `api` is an [openapi-fetch](https://openapi-ts.dev/openapi-fetch/) client typed by the types
 * `openapi-typescript` generated from the server's OpenAPI document (`src/generated/schema.ts`,
 * by `clients/generate`): every path, parameter, body and answer is checked by the compiler.
 * Around it, what generators do badly: `call` turns an error answer into a `SwitchyardError`
 * (stable `code`, `message`, `details`), calls safe to repeat are retried on `503` and failed
 * connections with backoff and jitter, and `watch` follows a space's log as an async iterator
 * that resumes after a dropped connection.
 *
 * ```ts
 * import { Switchyard } from "@switchyard/client";
 * const sy = new Switchyard({ server: "http://127.0.0.1:7400", token });
 * await sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances", {
 *   params: { path: { space: "acme", name: "order" } }, body: { id: "o-1" } }));
 * for await (const record of sy.watch("acme", { start: 1 })) console.log(record.seq, record.kind);
 * ```
 */

import createFetchClient, { type Client } from "openapi-fetch";

import { SwitchyardError } from "./errors.js";
import type { components, paths } from "./generated/schema.js";
import { DEFAULT_RETRY, type RetryPolicy, retryingFetch, sleep, waitMs } from "./retry.js";
import { SseParser } from "./sse.js";

export { SwitchyardError } from "./errors.js";
export type { RetryPolicy } from "./retry.js";
export type { components, paths } from "./generated/schema.js";

/** A log record, as history and the watch give it. */
export type LogRecord = components["schemas"]["LogRecord"];

/** Where and how to reach a server. */
export interface SwitchyardOptions {
  /** The server's URL (default `http://127.0.0.1:7400`). */
  server?: string;
  /** A token or session secret. */
  token?: string;
  /** Retries of calls safe to repeat (default 4 retries from 100 ms, at most 5 s apart). */
  retry?: Partial<RetryPolicy>;
  /** The `fetch` to use (default the global one). */
  fetch?: typeof fetch;
}

/** What to watch: as the watch route filters. */
export interface WatchOptions {
  /** From this seq (or `"now"`, the default). */
  start?: number | "now";
  address?: string;
  kind?: string | string[];
  state?: string;
  event?: string;
  /** Reopen a dropped connection after the last record seen (default true). */
  reconnect?: boolean;
  /** Ends the watch. */
  signal?: AbortSignal;
}

/** A fresh idempotency key: send it with a write, and again on a retry of that write, so the
 * server applies it once and answers the repeat with the original. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

type Result<D> = { data?: D; error?: unknown; response: Response };

/** Switchyard over HTTP. */
export class Switchyard {
  /** The typed openapi-fetch client: `api.GET(path, init)`, `api.POST(…)`… */
  readonly api: Client<paths>;
  readonly server: string;
  private readonly token: string | undefined;
  private readonly policy: RetryPolicy;
  private readonly fetch: (input: Request) => Promise<Response>;

  constructor(options: SwitchyardOptions = {}) {
    this.server = (options.server ?? "http://127.0.0.1:7400").replace(/\/+$/, "");
    this.token = options.token;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.fetch = retryingFetch(this.policy, options.fetch ?? globalThis.fetch);
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`;
    this.api = createFetchClient<paths>({ baseUrl: this.server, headers, fetch: this.fetch });
  }

  /** The data of an operation's answer, or a `SwitchyardError` for an error answer. */
  async call<D>(result: Promise<Result<D>>): Promise<D> {
    const { data, error, response } = await result;
    if (!response.ok) throw SwitchyardError.fromBody(response.status, error, response.headers);
    return data as D;
  }

  /** The space's log records as they are written, filtered as the watch route filters. A
   * dropped connection — the server restarting included — is reopened after the last record
   * seen (`Last-Event-ID`), so no record is missed or repeated; a stream error (`seq_expired`…)
   * throws `SwitchyardError`. */
  async *watch(space: string, options: WatchOptions = {}): AsyncGenerator<LogRecord> {
    const reconnect = options.reconnect ?? true;
    let last: string | undefined;
    for (let attempt = 0; ; attempt = Math.min(attempt + 1, 16)) {
      const query = new URLSearchParams();
      if (last === undefined && options.start !== undefined) query.set("from", String(options.start));
      if (options.address !== undefined) query.set("address", options.address);
      if (options.kind !== undefined) query.set("kind", Array.isArray(options.kind) ? options.kind.join(",") : options.kind);
      if (options.state !== undefined) query.set("state", options.state);
      if (options.event !== undefined) query.set("event", options.event);
      const headers = new Headers({ Accept: "text/event-stream" });
      if (this.token !== undefined) headers.set("Authorization", `Bearer ${this.token}`);
      if (last !== undefined) headers.set("Last-Event-ID", last);
      const url = `${this.server}/v1/spaces/${encodeURIComponent(space)}/watch?${query}`;
      try {
        const response = await this.fetch(new Request(url, { headers, signal: options.signal }));
        if (!response.ok) {
          const text = await response.text();
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON: the error keeps the text.
          }
          const error = SwitchyardError.fromBody(response.status, body, response.headers);
          if (response.status !== 503 || !reconnect) throw error;
        } else if (response.body) {
          attempt = 0;
          const parser = new SseParser();
          const decoder = new TextDecoderStream();
          for await (const chunk of response.body.pipeThrough(decoder) as unknown as AsyncIterable<string>) {
            for (const event of parser.push(chunk)) {
              if (event.event === "error") throw SwitchyardError.fromBody(200, JSON.parse(event.data));
              if (event.id !== undefined) last = event.id;
              yield JSON.parse(event.data) as LogRecord;
            }
          }
        }
      } catch (error) {
        if (error instanceof SwitchyardError || options.signal?.aborted || !reconnect) throw error;
      }
      if (!reconnect || options.signal?.aborted) return;
      await sleep(waitMs(this.policy, attempt));
    }
  }
}
