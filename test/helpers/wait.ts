// Polling with a deadline and a failure message that says what was awaited and what was last seen.

export interface WaitOptions {
  /** What is awaited, for the failure message ("GHR app.opendi.com to be Ready"). */
  description: string;
  timeoutMs?: number;
  intervalMs?: number;
}

type Found<T> = Exclude<T, undefined | null | false>;

function show(value: unknown): string {
  try {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return text.length > 500 ? `${text.slice(0, 500)}...` : text;
  } catch {
    return String(value);
  }
}

/**
 * Calls `fn` until it returns something other than undefined, null or false, and resolves with
 * that. A throw counts as "not yet". At the deadline it fails naming `description`, with the
 * last result or error.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, options: WaitOptions): Promise<Found<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) return value as Found<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  let detail = '';
  if (last && 'error' in last) detail = `; last error: ${last.error instanceof Error ? last.error.message : show(last.error)}`;
  else if (last) detail = `; last result: ${show(last.value)}`;
  throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(1)}s waiting for ${options.description}${detail}`);
}
