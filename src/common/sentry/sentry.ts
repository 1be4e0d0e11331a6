import type { ErrorEvent } from '@sentry/node';
import { redact, redactString } from '../logging/redact.js';

type SentryModule = typeof import('@sentry/node');
// Loaded only when SENTRY_DSN is set: the SDK costs about 40 MB of memory and 0.4 s of boot.
let sentry: SentryModule | undefined;

/**
 * Error reporting is off unless SENTRY_DSN is set. When on: no default PII (the successor of
 * `sendDefaultPii: false`), no automatic
 * instrumentation (it would capture request bodies and headers), and every event passes the
 * same redaction as the logs before it is sent.
 */
export async function initSentry(dsn: string | undefined, environment: string): Promise<void> {
  if (!dsn || sentry) return;
  const Sentry = await import('@sentry/node');
  Sentry.initWithoutDefaultIntegrations({
    dsn,
    environment,
    // @sentry/node 11 replaced `sendDefaultPii` with per-category `dataCollection`: collect none.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      databaseQueryData: false,
      queues: false,
      graphQL: { document: false, variables: false },
      genAI: { inputs: false, outputs: false },
      mcp: { inputs: false, outputs: false },
    },
    tracesSampleRate: 0,
    maxBreadcrumbs: 0,
    integrations: [],
    beforeSend: scrubEvent,
  });
  sentry = Sentry;
}

/** Removes request data, user identity and anything secret-looking from an event. */
export function scrubEvent(event: ErrorEvent): ErrorEvent {
  if (event.request) {
    event.request = { method: event.request.method, url: event.request.url ? redactString(event.request.url.split('?')[0]) : undefined };
  }
  delete event.user;
  delete event.breadcrumbs;
  if (event.message) event.message = redactString(event.message);
  for (const exception of event.exception?.values ?? []) {
    if (exception.value) exception.value = redactString(exception.value);
    for (const frame of exception.stacktrace?.frames ?? []) {
      delete frame.vars;
    }
  }
  if (event.extra) event.extra = redact(event.extra);
  if (event.contexts) event.contexts = redact(event.contexts);
  if (event.tags) event.tags = redact(event.tags);
  return event;
}

export function reportError(error: unknown, tags: Record<string, string>): void {
  const Sentry = sentry;
  if (!Sentry) return;
  Sentry.withScope((scope) => {
    scope.setTags(tags);
    Sentry.captureException(error);
  });
}

export async function flushSentry(timeoutMs = 2000): Promise<void> {
  if (sentry) await sentry.flush(timeoutMs);
}

export async function closeSentry(): Promise<void> {
  if (!sentry) return;
  await sentry.close(2000);
  sentry = undefined;
}
