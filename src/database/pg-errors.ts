/** PostgreSQL error details that services map to API errors by constraint name. */
export interface PgError {
  code: string;
  constraint?: string;
}

export function pgError(error: unknown): PgError | undefined {
  // TypeORM wraps driver errors in QueryFailedError and keeps the driver's fields on it.
  const candidate = error as { code?: unknown; constraint?: unknown; driverError?: { code?: unknown; constraint?: unknown } } | null;
  if (!candidate || typeof candidate !== 'object') return undefined;
  const source = typeof candidate.code === 'string' ? candidate : candidate.driverError;
  if (!source || typeof source.code !== 'string') return undefined;
  return { code: source.code, constraint: typeof source.constraint === 'string' ? source.constraint : undefined };
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';

/** True when `error` is a violation of `constraint` (of any kind). */
export function violates(error: unknown, constraint: string): boolean {
  return pgError(error)?.constraint === constraint;
}
