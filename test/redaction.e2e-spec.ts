import { randomBytes } from 'node:crypto';
import { closeSentry, flushSentry, initSentry } from '../src/common/sentry/sentry.js';
import { ProbeModule } from './fixtures/probe.module.js';
import { startSentrySink, type SentrySink } from './fakes/sentry-sink.js';
import { startTestApp, type TestApp } from './harness/app.js';

/** Letters and hex only: no digit run a card-number pattern could swallow by accident. */
const canary = (label: string): string => `canary${label}${randomBytes(8).toString('hex')}`;

/** Names of the needles found in the haystack; a failure names what leaked without dumping the whole output. */
function leaked(haystack: string, needles: Record<string, string>): string[] {
  return Object.entries(needles)
    .filter(([, needle]) => haystack.includes(needle))
    .map(([name]) => name);
}

const CARD_NUMBERS = ['4242 4242 4242 4242', '4242424242424242', '4242-4242-4242-4242', '4000-0566-5566-5556', '4000056655665556', '4000 0566 5566 5556'];

describe('Redaction: secrets never reach the logs or Sentry', () => {
  let t: TestApp;
  let sink: SentrySink;

  beforeAll(async () => {
    sink = await startSentrySink();
    t = await startTestApp({ env: { SENTRY_DSN: sink.dsn }, extraModules: [ProbeModule] });
    // The harness builds the app without bootstrap.ts, so Sentry is switched on here, the same way.
    // Under Jest the SDK warns that it cannot hook the module loader; that is expected and harmless.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).startsWith('[Sentry] Failed to register diagnostics-channel injection hooks')) warn(...args);
    };
    try {
      await initSentry(t.config.sentryDsn, 'test');
    } finally {
      console.warn = warn;
    }
  });
  afterAll(async () => {
    await closeSentry();
    await t?.close();
    await sink?.close();
  });

  it('redacts a request logged carelessly: query token, credentials in headers and cookies, secret body fields, card numbers', async () => {
    const secrets = {
      query: canary('query'),
      bearer: canary('bearer'),
      cookie: canary('cookie'),
      apiKey: canary('apikey'),
      password: canary('password'),
      newPassword: canary('newpassword'),
      refresh: canary('refresh'),
      clientSecret: canary('clientsecret'),
    };
    const res = await t.inject({
      method: 'POST',
      url: `/test-probe/careless-log?t=${secrets.query}&d=20000`,
      headers: {
        authorization: `Bearer ${secrets.bearer}`,
        cookie: `__Host-ll_access=${secrets.cookie}; other=1`,
        'x-api-key': secrets.apiKey,
      },
      payload: {
        password: secrets.password,
        newPassword: secrets.newPassword,
        refreshToken: secrets.refresh,
        card: '4242 4242 4242 4242',
        note: 'card 4000-0566-5566-5556 please',
        nested: { deeper: { client_secret: secrets.clientSecret } },
      },
    });
    expect(res.statusCode).toBe(201);

    // The lines we check are really there, with what is not secret kept.
    const careless = t.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('careless log of /test-probe/careless-log'));
    expect(careless).toBeDefined();
    expect(careless).toMatchObject({
      level: 'info',
      query: { d: '20000' },
      headers: { 'content-type': 'application/json' },
      body: { note: expect.stringMatching(/^card .+ please$/) },
    });
    expect(careless!.url).toContain('/test-probe/careless-log?');
    expect(careless!.url).toContain('d=20000');
    const requestLine = t.logs.find((line) => line.msg === 'request' && String(line.url).startsWith('/test-probe/careless-log'));
    expect(requestLine).toMatchObject({ method: 'POST', status: 201 });
    expect(requestLine!.url).toContain('d=20000');

    const raw = t.rawLogs();
    expect(leaked(raw, secrets)).toEqual([]);
    expect(leaked(raw, Object.fromEntries(CARD_NUMBERS.map((card) => [card, card])))).toEqual([]);
  });

  it('sends an unexpected error to Sentry with its error id, but without request data, identity or secrets', async () => {
    // Secrets may appear nowhere; the rest of the request is fine in our logs but not in Sentry.
    const secrets = { query: canary('query'), bearer: canary('bearer'), cookie: canary('cookie') };
    const requestData = { queryValue: canary('other'), userAgent: canary('agent') };
    const requestId = `sentry-probe-${randomBytes(4).toString('hex')}`;
    const clientIp = '203.0.113.77';
    const forwardedFor = '198.51.100.7';
    const res = await t.inject({
      method: 'GET',
      url: `/test-probe/explode?token=${secrets.query}&q=${requestData.queryValue}`,
      remoteAddress: clientIp,
      headers: {
        authorization: `Bearer ${secrets.bearer}`,
        cookie: `__Host-ll_access=${secrets.cookie}`,
        'user-agent': requestData.userAgent,
        'x-forwarded-for': forwardedFor,
        'x-request-id': requestId,
      },
    });
    expect(res.statusCode).toBe(500);
    const { errorId } = res.json() as { errorId: string };
    expect(errorId).toMatch(/^[0-9a-f-]{36}$/);

    await flushSentry();
    const event = sink.events().find((candidate) => (candidate.tags as Record<string, unknown> | undefined)?.requestId === requestId);
    expect(event).toBeDefined();
    // Support finds the report by the id the client was given.
    expect(event!.tags).toMatchObject({ errorId, requestId });
    // The diagnosis survives: what was thrown, and where.
    const [exception] = (event!.exception as { values: Array<{ type: string; value: string; stacktrace?: { frames: unknown[] } }> }).values;
    expect(exception.type).toBe('Error');
    expect(exception.value).toContain('secret_table');
    expect(exception.stacktrace?.frames.length).toBeGreaterThan(0);
    // No request data and no identity.
    expect(event!.user).toBeUndefined();
    const request = event!.request as Record<string, unknown> | undefined;
    for (const field of ['headers', 'cookies', 'query_string', 'data', 'env']) expect(request?.[field]).toBeUndefined();
    expect(String(request?.url ?? '')).not.toContain('?');

    // Nothing from the request, and the token value inside the error message (secret-looking)
    // does not leave the process either.
    const forbidden = { ...secrets, ...requestData, clientIp, forwardedFor, ipField: 'ip_address', tokenInMessage: 'canary-sql' };
    expect(leaked(sink.raw(), forbidden)).toEqual([]);

    // The same error in the log, under the same ids; same rule.
    const logged = t.logs.find((line) => line.reqId === requestId && line.msg === 'unexpected error');
    expect(logged).toMatchObject({ level: 'error', errorId });
    expect(JSON.stringify(logged)).toContain('secret_table');
    expect(leaked(t.rawLogs(), { ...secrets, tokenInMessage: 'canary-sql' })).toEqual([]);
  });

  it('does not mistake a uuid for a card number', async () => {
    // Its first three groups are digits only: 16 digits with dashes, the card pattern's shape.
    // About 1 random uuid in 800 is like this, so ids in logs, audit details and error reports
    // (errorId, businessId, ...) are sometimes replaced by [REDACTED].
    const invoiceId = '59032783-3252-4149-afeb-e06fbb432513';
    const res = await t.inject({ method: 'POST', url: '/test-probe/careless-log', payload: { invoiceId, card: '4242424242424242' } });
    expect(res.statusCode).toBe(201);
    const line = t.logs.find((candidate) => (candidate.body as Record<string, unknown> | undefined)?.invoiceId !== undefined);
    expect(line).toBeDefined();
    expect(line!.body).toEqual({ invoiceId, card: '[REDACTED]' });
  });
});
