import type { Logger } from 'pino';

/**
 * While the queue's database or Redis is away, every worker retries about ten times a second:
 * log the first error of each source, then at most one line per source every 10 s with the
 * number of repeats in between.
 */
export function throttledErrorLog(logger: Pick<Logger, 'warn'>, windowMs = 10_000, now: () => number = Date.now): (source: string, error: Error) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (source, error) => {
    const at = now();
    const entry = last.get(source);
    if (entry && at - entry.at < windowMs) {
      entry.suppressed += 1;
      return;
    }
    logger.warn({ source, repeats: entry?.suppressed ?? 0, err: { message: error.message, code: (error as { code?: string }).code } }, 'queue backend error');
    last.set(source, { at, suppressed: 0 });
  };
}
