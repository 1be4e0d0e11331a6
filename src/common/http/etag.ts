import { AppError } from '../errors/app-error.js';

/** The ETag of a versioned resource: its version number, quoted (`"3"`). */
export function etagFor(version: number): string {
  return `"${version}"`;
}

/**
 * The version an `If-Match` header asks for. Missing: 428 (an edit must say which version it
 * was based on, so two editors cannot overwrite each other silently). Accepts `"3"`, `W/"3"`
 * and a bare `3`; anything else is a 400 naming the header.
 */
export function versionFromIfMatch(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') {
    throw new AppError(428, 'precondition_required', 'Send If-Match with the ETag (version) you last read, e.g. If-Match: "3".');
  }
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(value);
  if (!match) throw AppError.validation([{ field: 'If-Match', code: 'invalid_if_match', message: 'If-Match must be the ETag of the resource, e.g. "3"' }]);
  return Number(match[1]);
}

/** 412 when the stored version moved on since the client read it. */
export function assertVersion(expected: number, current: number): void {
  if (expected !== current) {
    throw new AppError(412, 'version_mismatch', `The resource changed since you read it (you sent version ${expected}, it is now ${current}): reload and try again.`);
  }
}
