import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import type { TestApp } from '../harness/app.js';

/** One request as a fake received it. */
export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: IncomingMessage['headers'];
  /** Form fields (Stripe) or JSON (PayPal), parsed. */
  body: Record<string, unknown>;
  idempotencyKey: string | undefined;
}

/** How a matching request fails: an HTTP error, a connection reset, or a response held back. */
export type Failure = { status: number; body?: unknown } | { reset: true } | { delayMs: number };

interface FailureRule {
  method?: string;
  path: RegExp;
  failure: Failure;
  times: number;
}

/**
 * Failure injection shared by the fakes: `failNext` makes the next matching requests fail
 * like a vendor does (a 5xx, a dropped connection, a slow answer).
 */
export class Failures {
  private readonly rules: FailureRule[] = [];

  failNext(match: { method?: string; path: RegExp }, failure: Failure, times = 1): void {
    this.rules.push({ ...match, failure, times });
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** Applies a matching failure; true when the request was answered (or dropped) by it. */
  async apply(request: IncomingMessage, response: ServerResponse, path: string, errorBody: (status: number) => unknown): Promise<boolean> {
    const rule = this.rules.find((candidate) => candidate.times > 0 && candidate.path.test(path) && (!candidate.method || candidate.method === request.method));
    if (!rule) return false;
    rule.times -= 1;
    const { failure } = rule;
    if ('reset' in failure) {
      request.socket.destroy();
      return true;
    }
    if ('delayMs' in failure) {
      await new Promise((resolve) => setTimeout(resolve, failure.delayMs));
      return false;
    }
    send(response, failure.status, failure.body ?? errorBody(failure.status));
    return true;
  }
}

export function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.destroyed || response.writableEnded) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
  response.end(text);
}

export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function listen(handler: (request: IncomingMessage, response: ServerResponse) => Promise<void>): Promise<{ server: Server; url: string; port: number }> {
  const server = createServer((request, response) => {
    handler(request, response).catch((error: unknown) => send(response, 500, { error: { type: 'api_error', message: String(error) } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, port };
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.closeAllConnections();
    server.close((error) => (error ? reject(error) : resolve()));
  });
}

/** `a[b][0][c]=1` form encoding (what stripe-node sends) into nested objects (indices stay string keys). */
export function parseForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of text.split('&').filter(Boolean)) {
    const [rawKey, rawValue = ''] = pair.split('=');
    const key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    const value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    const parts = key.replace(/\]/g, '').split('[');
    let target = out;
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1) target[part] = value;
      else target = (target[part] ??= {}) as Record<string, unknown>;
    }
  }
  return out;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

interface PaymentIntentState {
  id: string;
  amount: number;
  currency: string;
  status: string;
  metadata: Record<string, string>;
  created: number;
  chargeId: string;
  balanceTransactionId: string;
  fee: number;
  card: { brand: string; last4: string };
  refunded: number;
}

interface RefundState {
  id: string;
  amount: number;
  currency: string;
  status: string;
  charge: string;
  payment_intent: string;
  metadata: Record<string, string>;
  created: number;
}

export interface FakeStripe {
  url: string;
  secretKey: string;
  webhookSecret: string;
  /** STRIPE_* variables that point the app at this fake. */
  env(): Record<string, string>;
  requests: FakeRequest[];
  failures: Failures;
  sessions: Map<string, Record<string, unknown>>;
  paymentIntents: Map<string, PaymentIntentState>;
  refunds: Map<string, RefundState>;
  /** Status of refunds created through the API (`pending` to test confirmation by webhook). */
  refundStatus: 'succeeded' | 'pending' | 'failed';
  /** A succeeded payment intent (a customer paid on Stripe's page), with its charge and balance transaction. */
  paymentIntent(input: { amount: number; currency: string; metadata: Record<string, string>; status?: string; fee?: number; card?: { brand: string; last4: string } }): PaymentIntentState;
  /** A customer completes a Checkout Session created by the app: its payment intent succeeds. */
  completeSession(sessionId: string): { session: Record<string, unknown>; intent: PaymentIntentState };
  /** A refund made in Stripe's dashboard (no metadata of ours). */
  dashboardRefund(paymentIntentId: string, amount: number): RefundState;
  charge(paymentIntentId: string): Record<string, unknown>;
  checkoutSession(intent: PaymentIntentState, overrides?: Record<string, unknown>): Record<string, unknown>;
  dispute(paymentIntentId: string, overrides?: Record<string, unknown>): Record<string, unknown>;
  /** A payout of these payment intents' balance transactions (the payout object a `payout.paid` event carries). */
  payout(paymentIntentIds: string[]): Record<string, unknown>;
  /** A Stripe event envelope around `object`. */
  event(type: string, object: Record<string, unknown>, overrides?: Record<string, unknown>): Record<string, unknown>;
  /** The Stripe-Signature header for `payload`, signed exactly as Stripe signs. */
  sign(payload: string, options?: { timestamp?: number; secret?: string }): string;
  /** POSTs `event` (or a raw body) to /webhooks/stripe, signed unless a header is given. */
  deliver(t: TestApp, event: unknown, options?: { timestamp?: number; secret?: string; header?: string | null; contentType?: string }): ReturnType<TestApp['inject']>;
  idempotencyKeysFor(path: RegExp): Array<string | undefined>;
  close(): Promise<void>;
}

/**
 * A local stand-in for the Stripe API, serving only the endpoints Ledgerline calls
 * (Checkout Sessions, payment intents with expand, refunds), with Stripe's idempotency
 * semantics (same key and parameters: the first answer replayed; other parameters: 400
 * idempotency_error) and failures on demand. Every request is recorded, headers included.
 */
export async function startFakeStripe(): Promise<FakeStripe> {
  const secretKey = `sk_test_${randomBytes(12).toString('hex')}`;
  const webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const requests: FakeRequest[] = [];
  const failures = new Failures();
  const sessions = new Map<string, Record<string, unknown>>();
  const paymentIntents = new Map<string, PaymentIntentState>();
  const refunds = new Map<string, RefundState>();
  const idempotent = new Map<string, { hash: string; status: number; body: unknown }>();
  const payouts = new Map<string, { intents: PaymentIntentState[] }>();
  const signer = new Stripe(secretKey).webhooks;
  let baseUrl = '';

  const now = () => Math.floor(Date.now() / 1000);
  const stripeError = (status: number, type: string, message: string, code?: string) => ({ status, body: { error: { type, message, ...(code ? { code } : {}) } } });

  function chargeOf(intent: PaymentIntentState, expandBalance: boolean): Record<string, unknown> {
    return {
      id: intent.chargeId,
      object: 'charge',
      amount: intent.amount,
      amount_captured: intent.amount,
      amount_refunded: intent.refunded,
      refunded: intent.refunded >= intent.amount,
      currency: intent.currency,
      created: intent.created,
      livemode: false,
      paid: true,
      status: 'succeeded',
      payment_intent: intent.id,
      metadata: intent.metadata,
      billing_details: { email: 'carla@example.test', name: 'Carla Customer', address: { line1: '1 Test Road' } },
      payment_method_details: { type: 'card', card: { brand: intent.card.brand, last4: intent.card.last4, exp_month: 12, exp_year: 2030, fingerprint: 'fp_test' } },
      balance_transaction: expandBalance
        ? { id: intent.balanceTransactionId, object: 'balance_transaction', amount: intent.amount, fee: intent.fee, net: intent.amount - intent.fee, currency: intent.currency }
        : intent.balanceTransactionId,
    };
  }

  function intentJson(intent: PaymentIntentState, expand: string[]): Record<string, unknown> {
    const expandCharge = expand.includes('latest_charge') || expand.includes('latest_charge.balance_transaction');
    return {
      id: intent.id,
      object: 'payment_intent',
      amount: intent.amount,
      amount_received: intent.status === 'succeeded' ? intent.amount : 0,
      currency: intent.currency,
      status: intent.status,
      metadata: intent.metadata,
      created: intent.created,
      livemode: false,
      latest_charge: expandCharge ? chargeOf(intent, expand.includes('latest_charge.balance_transaction')) : intent.chargeId,
    };
  }

  function refundJson(refund: RefundState): Record<string, unknown> {
    return { object: 'refund', ...refund, failure_reason: refund.status === 'failed' ? 'unknown' : null };
  }

  function createIntent(input: Parameters<FakeStripe['paymentIntent']>[0]): PaymentIntentState {
    const intent: PaymentIntentState = {
      id: id('pi'),
      amount: input.amount,
      currency: input.currency.toLowerCase(),
      status: input.status ?? 'succeeded',
      metadata: input.metadata,
      created: now(),
      chargeId: id('ch'),
      balanceTransactionId: id('txn'),
      fee: input.fee ?? Math.round(input.amount * 0.029) + 25,
      card: input.card ?? { brand: 'visa', last4: '4242' },
      refunded: 0,
    };
    paymentIntents.set(intent.id, intent);
    return intent;
  }

  async function route(method: string, path: string, query: Record<string, unknown>, body: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const lineItem = ((body.line_items as Record<string, Record<string, unknown>>)?.['0'] ?? {}) as Record<string, Record<string, unknown>>;
      const priceData = (lineItem.price_data ?? {}) as Record<string, unknown>;
      if (body.mode !== 'payment' || !priceData.currency || !priceData.unit_amount || !body.success_url || !body.cancel_url) {
        return stripeError(400, 'invalid_request_error', 'Missing required param: mode, line_items, success_url or cancel_url.', 'parameter_missing');
      }
      const sessionId = id('cs_test');
      const session = {
        id: sessionId,
        object: 'checkout.session',
        mode: 'payment',
        status: 'open',
        payment_status: 'unpaid',
        amount_total: Number(priceData.unit_amount) * Number(lineItem.quantity ?? 1),
        currency: priceData.currency,
        client_reference_id: body.client_reference_id ?? null,
        metadata: body.metadata ?? {},
        payment_intent_data: body.payment_intent_data ?? {},
        payment_intent: null,
        success_url: body.success_url,
        cancel_url: body.cancel_url,
        url: `${baseUrl}/c/pay/${sessionId}`,
        expires_at: now() + 24 * 3600,
        livemode: false,
      };
      sessions.set(sessionId, session);
      return { status: 200, body: session };
    }
    const intentMatch = /^\/v1\/payment_intents\/([^/]+)$/.exec(path);
    if (method === 'GET' && intentMatch) {
      const intent = paymentIntents.get(decodeURIComponent(intentMatch[1]));
      if (!intent) return stripeError(404, 'invalid_request_error', `No such payment_intent: '${intentMatch[1]}'`, 'resource_missing');
      const expand = Object.values((query.expand as Record<string, string>) ?? {});
      return { status: 200, body: intentJson(intent, expand) };
    }
    if (method === 'POST' && path === '/v1/refunds') {
      const intent = paymentIntents.get(String(body.payment_intent ?? ''));
      if (!intent || intent.status !== 'succeeded') return stripeError(400, 'invalid_request_error', 'No such payment_intent.', 'resource_missing');
      const amount = body.amount === undefined ? intent.amount - intent.refunded : Number(body.amount);
      if (!Number.isSafeInteger(amount) || amount <= 0 || amount > intent.amount - intent.refunded) {
        return stripeError(400, 'invalid_request_error', 'Refund amount is greater than the unrefunded amount.', 'amount_too_large');
      }
      const refund: RefundState = {
        id: id('re'),
        amount,
        currency: intent.currency,
        status: fake.refundStatus,
        charge: intent.chargeId,
        payment_intent: intent.id,
        metadata: (body.metadata as Record<string, string>) ?? {},
        created: now(),
      };
      if (refund.status !== 'failed') intent.refunded += amount;
      refunds.set(refund.id, refund);
      return { status: 200, body: refundJson(refund) };
    }
    if (method === 'GET' && path === '/v1/balance_transactions') {
      const payout = payouts.get(String(query.payout ?? ''));
      if (!payout) return stripeError(404, 'invalid_request_error', 'No such payout.', 'resource_missing');
      const data = payout.intents.map((intent) => ({ id: intent.balanceTransactionId, object: 'balance_transaction', amount: intent.amount, fee: intent.fee, net: intent.amount - intent.fee, currency: intent.currency, source: intent.chargeId, type: 'charge' }));
      return { status: 200, body: { object: 'list', url: '/v1/balance_transactions', has_more: false, data } };
    }
    if (method === 'GET' && path === '/v1/refunds') {
      const charge = String(query.charge ?? '');
      const data = [...refunds.values()].filter((refund) => !charge || refund.charge === charge).map(refundJson);
      return { status: 200, body: { object: 'list', url: '/v1/refunds', has_more: false, data } };
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  const { server, url } = await listen(async (request, response) => {
    const parsed = new URL(request.url ?? '/', 'http://fake');
    const text = await readBody(request);
    const body = request.method === 'POST' ? parseForm(text) : {};
    const query = parseForm(parsed.search.slice(1));
    const idempotencyKey = typeof request.headers['idempotency-key'] === 'string' ? request.headers['idempotency-key'] : undefined;
    requests.push({ method: request.method ?? '', path: parsed.pathname, query, headers: request.headers, body, idempotencyKey });
    if (await failures.apply(request, response, parsed.pathname, (status) => ({ error: { type: 'api_error', message: `fake failure ${status}` } }))) return;
    if (request.headers.authorization !== `Bearer ${secretKey}`) {
      send(response, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
      return;
    }
    if (request.method === 'POST' && idempotencyKey) {
      const hash = createHash('sha256').update(`${parsed.pathname}\n${text}`).digest('hex');
      const stored = idempotent.get(idempotencyKey);
      if (stored && stored.hash !== hash) {
        send(response, 400, { error: { type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.' } });
        return;
      }
      if (stored) {
        send(response, stored.status, stored.body, { 'idempotent-replayed': 'true' });
        return;
      }
      const answer = await route(request.method, parsed.pathname, query, body);
      idempotent.set(idempotencyKey, { hash, ...answer });
      send(response, answer.status, answer.body);
      return;
    }
    const answer = await route(request.method ?? 'GET', parsed.pathname, query, body);
    send(response, answer.status, answer.body);
  });
  baseUrl = url;

  const fake: FakeStripe = {
    url,
    secretKey,
    webhookSecret,
    env: () => ({ STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_BASE: url }),
    requests,
    failures,
    sessions,
    paymentIntents,
    refunds,
    refundStatus: 'succeeded',
    paymentIntent: createIntent,
    completeSession(sessionId) {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no session ${sessionId}`);
      const metadata = ((session.payment_intent_data as Record<string, unknown>)?.metadata ?? session.metadata) as Record<string, string>;
      const intent = createIntent({ amount: Number(session.amount_total), currency: String(session.currency), metadata });
      Object.assign(session, { status: 'complete', payment_status: 'paid', payment_intent: intent.id, customer_details: { email: 'carla@example.test', name: 'Carla Customer' } });
      return { session, intent };
    },
    dashboardRefund(paymentIntentId, amount) {
      const intent = paymentIntents.get(paymentIntentId)!;
      const refund: RefundState = { id: id('re'), amount, currency: intent.currency, status: 'succeeded', charge: intent.chargeId, payment_intent: intent.id, metadata: {}, created: now() };
      intent.refunded += amount;
      refunds.set(refund.id, refund);
      return refund;
    },
    charge: (paymentIntentId) => chargeOf(paymentIntents.get(paymentIntentId)!, false),
    checkoutSession: (intent, overrides = {}) => ({
      id: id('cs_test'),
      object: 'checkout.session',
      mode: 'payment',
      status: 'complete',
      payment_status: 'paid',
      amount_total: intent.amount,
      currency: intent.currency,
      metadata: intent.metadata,
      payment_intent: intent.id,
      customer_details: { email: 'carla@example.test', name: 'Carla Customer', address: { line1: '1 Test Road' } },
      client_secret: 'cs_secret_should_never_be_stored',
      livemode: false,
      ...overrides,
    }),
    dispute: (paymentIntentId, overrides = {}) => {
      const intent = paymentIntents.get(paymentIntentId)!;
      return { id: id('dp'), object: 'dispute', amount: intent.amount, currency: intent.currency, charge: intent.chargeId, payment_intent: intent.id, reason: 'fraudulent', status: 'needs_response', livemode: false, ...overrides };
    },
    payout(paymentIntentIds) {
      const intents = paymentIntentIds.map((intentId) => paymentIntents.get(intentId)!);
      const payoutId = id('po');
      payouts.set(payoutId, { intents });
      const amount = intents.reduce((sum, intent) => sum + intent.amount - intent.fee, 0);
      return { id: payoutId, object: 'payout', amount, currency: intents[0]?.currency ?? 'eur', status: 'paid', arrival_date: now(), livemode: false };
    },
    event: (type, object, overrides = {}) => ({
      id: id('evt'),
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: now(),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object },
      ...overrides,
    }),
    sign: (payload, options = {}) => signer.generateTestHeaderString({ payload, secret: options.secret ?? webhookSecret, timestamp: options.timestamp }),
    deliver(t, event, options = {}) {
      const payload = typeof event === 'string' ? event : JSON.stringify(event);
      const header = options.header === undefined ? fake.sign(payload, options) : options.header;
      return t.inject({
        method: 'POST',
        url: '/webhooks/stripe',
        headers: { 'content-type': options.contentType ?? 'application/json', ...(header === null ? {} : { 'stripe-signature': header }) },
        payload,
      });
    },
    idempotencyKeysFor: (path) => requests.filter((request) => path.test(request.path)).map((request) => request.idempotencyKey),
    close: () => close(server),
  };
  return fake;
}
