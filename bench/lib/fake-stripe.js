#!/usr/bin/env node
// A stateless stand-in for the Stripe API for the payment benchmarks (plain JS; the tests' fake,
// test/fakes/fake-stripe.ts, is TypeScript and keeps state in memory). It serves only what the
// stack calls while processing a `checkout.session.completed` event: GET /v1/payment_intents/:id
// (with `expand[]=latest_charge.balance_transaction`, which src/payments/stripe.gateway.ts always
// asks for). Everything the answer needs is encoded in the payment intent id, so the fake needs no
// state and any number of events can reference it:
//
//   pi_bench_<business uuid hex>_<invoice uuid hex>_<amount in cents>_<tag>
//
// The answer is a succeeded intent in EUR with metadata { business_id, invoice_id }, a card
// charge (visa 4242) and its balance transaction (fee 2.9 % + 25). A wrong bearer key gets
// Stripe's 401, an unknown path Stripe's 404.
//
// As a module: intent ids, events and Stripe-Signature headers (signed exactly as
// `stripe.webhooks.generateTestHeaderString` signs: `t=<ts>,v1=<hex hmac-sha256 of "<ts>.<body>">`),
// and startFakeStripe(ctx), which runs this file as its own server process (pinned with the load
// generator: it plays the vendor, not the server under test).
// As a process: `FAKE_STRIPE_SECRET_KEY=sk_test_… PORT=1234 node bench/lib/fake-stripe.js`.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './proc.js';

const SELF = fileURLToPath(import.meta.url);
const hex = (uuid) => uuid.replace(/-/g, '');
const uuid = (h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;

/** Fresh test credentials (a `sk_test_` key: the app refuses test events under a live key and vice versa). */
export function stripeCredentials() {
  return { secretKey: `sk_test_${randomBytes(12).toString('hex')}`, webhookSecret: `whsec_${randomBytes(16).toString('hex')}` };
}

/** A payment intent id the fake can answer for without state. */
export function intentId({ businessId, invoiceId, amount, tag }) {
  return `pi_bench_${hex(businessId)}_${hex(invoiceId)}_${amount}_${tag}`;
}

const INTENT = /^pi_bench_([0-9a-f]{32})_([0-9a-f]{32})_(\d{1,12})_([A-Za-z0-9]{1,80})$/;

export function decodeIntent(id) {
  const m = INTENT.exec(id);
  return m ? { businessId: uuid(m[1]), invoiceId: uuid(m[2]), amount: Number(m[3]), tag: m[4] } : null;
}

/** The Stripe-Signature header for `payload`, as stripe.webhooks.generateTestHeaderString makes it. */
export function sign(payload, secret, timestamp = Math.floor(Date.now() / 1000)) {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex')}`;
}

/**
 * A `checkout.session.completed` event (paid, payment mode) for one invoice, as Stripe sends it:
 * the session carries the app's metadata and the payment intent the app then retrieves.
 */
export function checkoutCompletedEvent({ eventId, businessId, invoiceId, amount, tag }) {
  const created = Math.floor(Date.now() / 1000);
  const metadata = { business_id: businessId, invoice_id: invoiceId, invoice_version: '2' };
  return {
    id: eventId,
    object: 'event',
    api_version: '2025-10-29.clover',
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed',
    data: {
      object: {
        id: `cs_test_bench_${tag}`,
        object: 'checkout.session',
        mode: 'payment',
        status: 'complete',
        payment_status: 'paid',
        amount_total: amount,
        currency: 'eur',
        client_reference_id: invoiceId,
        metadata,
        payment_intent: intentId({ businessId, invoiceId, amount, tag }),
        customer_details: { email: 'carla@example.test', name: 'Carla Customer', address: { line1: '1 Test Road' } },
        livemode: false,
      },
    },
  };
}

function intentJson(id, facts) {
  const created = Math.floor(Date.now() / 1000);
  const fee = Math.round(facts.amount * 0.029) + 25;
  const metadata = { business_id: facts.businessId, invoice_id: facts.invoiceId, invoice_version: '2' };
  return {
    id,
    object: 'payment_intent',
    amount: facts.amount,
    amount_received: facts.amount,
    currency: 'eur',
    status: 'succeeded',
    metadata,
    created,
    livemode: false,
    latest_charge: {
      id: `ch_bench_${facts.tag}`,
      object: 'charge',
      amount: facts.amount,
      amount_captured: facts.amount,
      amount_refunded: 0,
      refunded: false,
      currency: 'eur',
      created,
      livemode: false,
      paid: true,
      status: 'succeeded',
      payment_intent: id,
      metadata,
      billing_details: { email: 'carla@example.test', name: 'Carla Customer', address: { line1: '1 Test Road' } },
      payment_method_details: { type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030, fingerprint: 'fp_bench' } },
      balance_transaction: { id: `txn_bench_${facts.tag}`, object: 'balance_transaction', amount: facts.amount, fee, net: facts.amount - fee, currency: 'eur' },
    },
  };
}

function serve() {
  const secretKey = process.env.FAKE_STRIPE_SECRET_KEY;
  if (!secretKey) {
    console.error('FAKE_STRIPE_SECRET_KEY is required');
    process.exit(1);
  }
  let served = 0;
  const send = (res, status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': `req_bench_${++served}` });
    res.end(text);
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { status: 'ok', served });
      if (req.headers.authorization !== `Bearer ${secretKey}`) return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
      const m = /^\/v1\/payment_intents\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && m) {
        const id = decodeURIComponent(m[1]);
        const facts = decodeIntent(id);
        if (!facts) return send(res, 404, { error: { type: 'invalid_request_error', message: `No such payment_intent: '${id}'`, code: 'resource_missing' } });
        return send(res, 200, intentJson(id, facts));
      }
      return send(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname}).` } });
    });
  });
  server.keepAliveTimeout = 60_000;
  for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
  server.listen(Number(process.env.PORT) || 0, '127.0.0.1');
}

/**
 * Starts this file as a server process (pinned with the load generator), ready on GET /health.
 * Resolves to { url, pid, stop(), env } where env holds the STRIPE_* variables for the stack.
 */
export async function startFakeStripe(ctx, credentials = stripeCredentials()) {
  const srv = await startServer({
    name: `${ctx.scenario}/fake-stripe`,
    cmd: process.execPath,
    args: [SELF],
    cwd: path.dirname(SELF),
    cpu: ctx.pin.load,
    env: { ...process.env, FAKE_STRIPE_SECRET_KEY: credentials.secretKey },
    readyPath: '/health',
    readyTimeoutMs: 10_000,
    logFile: ctx.logFile('fake-stripe'),
  });
  return { ...srv, ...credentials, env: { STRIPE_SECRET_KEY: credentials.secretKey, STRIPE_WEBHOOK_SECRET: credentials.webhookSecret, STRIPE_API_BASE: srv.url } };
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) serve();
