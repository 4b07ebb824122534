/** An error the server answered: its HTTP status, stable `code` (`invalid_transition`,
 * `conflict`… — docs/http-api.md lists them), `message` and `details`. A function's own error
 * (an invocation that failed) carries the function's code. */
export class SwitchyardError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = undefined,
    /** Seconds to wait before trying again, when the server said (`Retry-After`). */
    readonly retryAfter: number | undefined = undefined,
  ) {
    super(`${code}: ${message}`);
    this.name = "SwitchyardError";
  }

  /** The error an answer's body holds (`{"error":{"code","message","details"}}`); a body that is
   * no such thing (a proxy's page) becomes code `http_<status>` with its text. */
  static fromBody(status: number, body: unknown, headers?: Headers): SwitchyardError {
    const retryAfter = headers?.get("retry-after");
    const wait = retryAfter === null || retryAfter === undefined || retryAfter === "" ? undefined : Number(retryAfter);
    const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
    if (error && typeof error.code === "string") {
      return new SwitchyardError(status, error.code, String(error.message ?? ""), error.details, wait);
    }
    const text = typeof body === "string" ? body.slice(0, 500) : "";
    return new SwitchyardError(status, `http_${status}`, text || `HTTP ${status}`, undefined, wait);
  }
}
