import { AppError } from '../errors/app-error.js';

/**
 * Opaque keyset cursors: base64url of a small JSON array holding the sort key of the last row
 * returned (for example `["2026-11-30T10:00:00.000Z", "<uuid>"]`) plus the sort it belongs to.
 * Keyset pagination never uses OFFSET, so a deep page costs the same as the first one.
 */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export function encodeCursor(sort: string, key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([sort, ...key]), 'utf8').toString('base64url');
}

/** The key a cursor holds, or a 400 naming `cursor` when it is not one of ours for this sort. */
export function decodeCursor(cursor: string, sort: string, arity: number): string[] {
  const invalid = AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not a cursor returned by this list with this sort' }]);
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed.length !== arity + 1 || parsed[0] !== sort) throw invalid;
  const key = parsed.slice(1);
  if (!key.every((part) => typeof part === 'string' && part.length <= 100)) throw invalid;
  return key as string[];
}

/** Fetch `limit + 1` rows; this trims the extra one and builds the next cursor from the last kept row. */
export function toPage<R, T>(rows: R[], limit: number, sort: string, keyOf: (row: R) => string[], view: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { data: kept.map(view), nextCursor: more ? encodeCursor(sort, keyOf(kept[kept.length - 1])) : null };
}

export const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
