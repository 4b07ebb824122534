/** Retries with backoff and jitter, for calls that are safe to repeat.
 *
 * A request is retried when the server answered `503 unavailable` or the connection failed,
 * and only when repeating it cannot apply it twice: GET, HEAD, PUT, DELETE and OPTIONS, and a
 * POST that carries an `Idempotency-Key`. A connection that could not be opened at all
 * (refused, no such host) is retried for every method: nothing was sent. The wait before retry
 * `n` is a random time up to `min(maxBackoffMs, backoffMs * 2 ** n)` ("full jitter"), or the
 * server's `Retry-After`. */

/** How many times, and how long to wait between attempts. */
export interface RetryPolicy {
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, backoffMs: 100, maxBackoffMs: 5000 };

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/** Whether sending `request` twice cannot apply it twice. */
export function repeatable(request: Request): boolean {
  return IDEMPOTENT.has(request.method) || request.headers.has("idempotency-key");
}

/** Milliseconds to wait before retry number `attempt` (0 for the first). */
export function waitMs(policy: RetryPolicy, attempt: number, response?: Response): number {
  const retryAfter = response?.headers.get("retry-after");
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.min(seconds * 1000, policy.maxBackoffMs);
  }
  return Math.random() * Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** attempt);
}

/** Whether a fetch failure happened before anything was sent. */
function notConnected(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } } | null)?.cause?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `fetch` with the policy applied. */
export function retryingFetch(policy: RetryPolicy, inner: typeof fetch = globalThis.fetch): (input: Request) => Promise<Response> {
  return async (request: Request) => {
    for (let attempt = 0; ; attempt++) {
      // A body is a stream, read once: each attempt sends a copy.
      const copy = request.clone();
      let response: Response;
      try {
        response = await inner(copy);
      } catch (error) {
        if (attempt >= policy.retries || !(notConnected(error) || repeatable(request))) throw error;
        await sleep(waitMs(policy, attempt));
        continue;
      }
      if (response.status !== 503 || attempt >= policy.retries || !repeatable(request)) return response;
      await response.body?.cancel();
      await sleep(waitMs(policy, attempt, response));
    }
  };
}
