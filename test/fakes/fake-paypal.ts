import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { TestApp } from '../harness/app.js';
import { close, Failures, listen, readBody, send, type FakeRequest } from './fake-stripe.js';

// --- a minimal DER encoder, enough for one self-signed X.509 certificate ---------------------
function der(tag: number, content: Buffer): Buffer {
  const length = content.length;
  const header =
    length < 0x80 ? Buffer.from([tag, length]) : length < 0x100 ? Buffer.from([tag, 0x81, length]) : length < 0x10000 ? Buffer.from([tag, 0x82, length >> 8, length & 0xff]) : Buffer.from([tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
  return Buffer.concat([header, content]);
}
const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const integer = (bytes: Buffer) => der(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));
const explicit = (tag: number, content: Buffer) => der(0xa0 + tag, content);
const NULL = Buffer.from([0x05, 0x00]);
function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const part of rest) {
    const chunk = [part & 0x7f];
    for (let value = part >> 7; value > 0; value >>= 7) chunk.unshift((value & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
function utcTime(date: Date): Buffer {
  const iso = date.toISOString();
  return der(0x17, Buffer.from(`${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, 'ascii'));
}
/** A random serial that DER encodes minimally: a leading 0x00 byte (non-minimal) makes OpenSSL refuse the whole certificate. */
function positiveSerial(): Buffer {
  const serial = randomBytes(8);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  return serial;
}
const SHA256_WITH_RSA = sequence(oid('1.2.840.113549.1.1.11'), NULL);

/**
 * A self-signed X.509 certificate for `commonName`, built with node:crypto only (Node can
 * generate keys and sign, not build certificates): the signing certificate the fake PayPal
 * serves at its cert URL, like PayPal's messageverificationcerts certificate.
 */
export function selfSignedCertificate(commonName: string, options: { notBefore?: Date; notAfter?: Date } = {}): { pem: string; privateKey: KeyObject; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8(commonName))));
  const notBefore = options.notBefore ?? new Date(Date.now() - 24 * 3600 * 1000);
  const notAfter = options.notAfter ?? new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(positiveSerial()),
    SHA256_WITH_RSA,
    name,
    sequence(utcTime(notBefore), utcTime(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = sequence(tbs, SHA256_WITH_RSA, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const base64 = certificate.toString('base64').replace(/(.{64})/g, '$1\n').trim();
  return { pem: `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`, privateKey, publicKey };
}

interface CaptureState {
  id: string;
  orderId: string;
  status: string;
  amount: { currency_code: string; value: string };
  customId: string | null;
  refunded: number;
  createTime: string;
}

interface OrderState {
  id: string;
  status: string;
  purchaseUnit: Record<string, unknown>;
  returnUrl: string | null;
  captureRequestId: string | null;
  captures: CaptureState[];
}

export interface SignOptions {
  transmissionId?: string;
  time?: string;
  webhookId?: string;
  certUrl?: string;
  privateKey?: KeyObject;
  algo?: string;
}

export interface FakePaypal {
  url: string;
  clientId: string;
  clientSecret: string;
  webhookId: string;
  certUrl: string;
  env(): Record<string, string>;
  requests: FakeRequest[];
  failures: Failures;
  orders: Map<string, OrderState>;
  captures: Map<string, CaptureState>;
  /** The status the next captures get: COMPLETED, PENDING or DECLINED. */
  captureStatus: 'COMPLETED' | 'PENDING' | 'DECLINED';
  /** The buyer approves the order on PayPal's page. */
  approve(orderId: string): void;
  /** An order the buyer approved and PayPal captured (for webhook-only tests). */
  capturedPayment(input: { amount: string; currency: string; customId: string; status?: string }): CaptureState;
  /** The capture as PayPal's API and webhooks show it. */
  captureResource(capture: CaptureState): Record<string, unknown>;
  refundResource(capture: CaptureState, amount: string, overrides?: Record<string, unknown>): Record<string, unknown>;
  event(eventType: string, resource: Record<string, unknown>, overrides?: Record<string, unknown>): Record<string, unknown>;
  /** The five PAYPAL-* headers signed as PayPal signs (RSA-SHA256 over id|time|webhook id|crc32). */
  sign(raw: string, options?: SignOptions): Record<string, string>;
  deliver(t: TestApp, event: unknown, options?: SignOptions & { headers?: Record<string, string | undefined> }): ReturnType<TestApp['inject']>;
  close(): Promise<void>;
}

const fee = (value: string) => (Math.round(Number(value) * 100 * 0.0349) / 100 + 0.49).toFixed(2);

/**
 * A local stand-in for PayPal's REST API: OAuth2 client credentials, Orders v2 (create, get,
 * capture with PayPal-Request-Id replay and ORDER_ALREADY_CAPTURED), captures, capture refunds,
 * and the webhook signing certificate (a test certificate generated at start).
 */
export async function startFakePaypal(): Promise<FakePaypal> {
  const clientId = `client-${randomBytes(6).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('hex');
  const webhookId = `WH${randomBytes(8).toString('hex').toUpperCase()}`;
  const token = `A21-${randomBytes(16).toString('hex')}`;
  const certificate = selfSignedCertificate('messageverificationcerts.sandbox.paypal.com');
  const requests: FakeRequest[] = [];
  const failures = new Failures();
  const orders = new Map<string, OrderState>();
  const captures = new Map<string, CaptureState>();
  const replays = new Map<string, { status: number; body: unknown }>();
  const paypalId = () => randomBytes(9).toString('hex').toUpperCase().slice(0, 17);
  let baseUrl = '';

  const problem = (status: number, name: string, issue?: string) => ({ status, body: { name, message: name, debug_id: 'fake', ...(issue ? { details: [{ issue, description: issue }] } : {}) } });

  function captureResource(capture: CaptureState): Record<string, unknown> {
    return {
      id: capture.id,
      status: capture.status,
      amount: capture.amount,
      final_capture: true,
      custom_id: capture.customId,
      seller_receivable_breakdown: {
        gross_amount: capture.amount,
        paypal_fee: { currency_code: capture.amount.currency_code, value: fee(capture.amount.value) },
        net_amount: { currency_code: capture.amount.currency_code, value: (Number(capture.amount.value) - Number(fee(capture.amount.value))).toFixed(2) },
      },
      supplementary_data: { related_ids: { order_id: capture.orderId } },
      create_time: capture.createTime,
      update_time: capture.createTime,
      links: [{ href: `${baseUrl}/v2/payments/captures/${capture.id}`, rel: 'self', method: 'GET' }],
    };
  }

  function orderJson(order: OrderState): Record<string, unknown> {
    return {
      id: order.id,
      intent: 'CAPTURE',
      status: order.status,
      purchase_units: [{ ...order.purchaseUnit, ...(order.captures.length ? { payments: { captures: order.captures.map(captureResource) } } : {}) }],
      payer: { email_address: 'buyer@example.test', name: { given_name: 'Bea', surname: 'Buyer' } },
      links: [
        { href: `${baseUrl}/v2/checkout/orders/${order.id}`, rel: 'self', method: 'GET' },
        ...(order.status === 'PAYER_ACTION_REQUIRED' ? [{ href: `${baseUrl}/checkoutnow?token=${order.id}`, rel: 'payer-action', method: 'GET' }] : []),
      ],
    };
  }

  function newCapture(order: OrderState, status: string): CaptureState {
    const unit = order.purchaseUnit as { amount: { currency_code: string; value: string }; custom_id?: string };
    const capture: CaptureState = { id: paypalId(), orderId: order.id, status, amount: unit.amount, customId: unit.custom_id ?? null, refunded: 0, createTime: new Date().toISOString() };
    order.captures.push(capture);
    captures.set(capture.id, capture);
    return capture;
  }

  async function route(method: string, path: string, headers: FakeRequest['headers'], body: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    if (method === 'POST' && path === '/v2/checkout/orders') {
      const unit = (Array.isArray(body.purchase_units) ? body.purchase_units[0] : undefined) as Record<string, unknown> | undefined;
      const amount = unit?.amount as { currency_code?: string; value?: string } | undefined;
      if (body.intent !== 'CAPTURE' || !amount?.currency_code || !amount.value) return problem(400, 'INVALID_REQUEST', 'MISSING_REQUIRED_PARAMETER');
      const experience = ((body.payment_source as Record<string, Record<string, Record<string, string>>>)?.paypal?.experience_context ?? {}) as Record<string, string>;
      const order: OrderState = { id: paypalId(), status: 'PAYER_ACTION_REQUIRED', purchaseUnit: unit!, returnUrl: experience.return_url ?? null, captureRequestId: null, captures: [] };
      orders.set(order.id, order);
      return { status: 201, body: orderJson(order) };
    }
    const orderMatch = /^\/v2\/checkout\/orders\/([^/]+)(\/capture)?$/.exec(path);
    if (orderMatch) {
      const order = orders.get(decodeURIComponent(orderMatch[1]));
      if (!order) return problem(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
      if (method === 'GET' && !orderMatch[2]) return { status: 200, body: orderJson(order) };
      if (method === 'POST' && orderMatch[2]) {
        if (order.status === 'COMPLETED') return problem(422, 'UNPROCESSABLE_ENTITY', 'ORDER_ALREADY_CAPTURED');
        if (order.status !== 'APPROVED') return problem(422, 'UNPROCESSABLE_ENTITY', 'ORDER_NOT_APPROVED');
        order.status = 'COMPLETED';
        order.captureRequestId = typeof headers['paypal-request-id'] === 'string' ? headers['paypal-request-id'] : null;
        newCapture(order, fake.captureStatus);
        return { status: 201, body: orderJson(order) };
      }
    }
    const captureMatch = /^\/v2\/payments\/captures\/([^/]+)(\/refund)?$/.exec(path);
    if (captureMatch) {
      const capture = captures.get(decodeURIComponent(captureMatch[1]));
      if (!capture) return problem(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
      if (method === 'GET' && !captureMatch[2]) return { status: 200, body: captureResource(capture) };
      if (method === 'POST' && captureMatch[2]) {
        const amount = body.amount as { value?: string; currency_code?: string } | undefined;
        const cents = Math.round(Number(amount?.value ?? capture.amount.value) * 100);
        const total = Math.round(Number(capture.amount.value) * 100);
        if (capture.status !== 'COMPLETED' && capture.status !== 'PARTIALLY_REFUNDED') return problem(422, 'UNPROCESSABLE_ENTITY', 'CAPTURE_FULLY_REFUNDED');
        if (!(cents > 0) || cents > total - capture.refunded) return problem(422, 'UNPROCESSABLE_ENTITY', 'REFUND_AMOUNT_EXCEEDED');
        capture.refunded += cents;
        capture.status = capture.refunded >= total ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
        return { status: 201, body: fake.refundResource(capture, (cents / 100).toFixed(2), { custom_id: body.custom_id ?? null }) };
      }
    }
    const certMatch = /^\/v1\/notifications\/certs\/CERT-ledgerline-test$/.exec(path);
    if (method === 'GET' && certMatch) return { status: 200, body: certificate.pem };
    return problem(404, 'RESOURCE_NOT_FOUND');
  }

  const { server, url } = await listen(async (request, response) => {
    const parsed = new URL(request.url ?? '/', 'http://fake');
    const text = await readBody(request);
    let body: Record<string, unknown> = {};
    if (text && String(request.headers['content-type']).includes('json')) {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        send(response, 400, { name: 'INVALID_REQUEST', message: 'MALFORMED_REQUEST_JSON' });
        return;
      }
    }
    const requestId = typeof request.headers['paypal-request-id'] === 'string' ? request.headers['paypal-request-id'] : undefined;
    requests.push({ method: request.method ?? '', path: parsed.pathname, query: Object.fromEntries(parsed.searchParams), headers: request.headers, body, idempotencyKey: requestId });
    if (await failures.apply(request, response, parsed.pathname, (status) => ({ name: status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'ERROR', message: 'fake failure' }))) return;
    if (parsed.pathname === '/v1/oauth2/token') {
      const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
      if (request.method !== 'POST' || request.headers.authorization !== expected || text !== 'grant_type=client_credentials') {
        send(response, 401, { error: 'invalid_client', error_description: 'Client Authentication failed' });
        return;
      }
      send(response, 200, { scope: 'https://uri.paypal.com/services/payments', access_token: token, token_type: 'Bearer', app_id: 'APP-FAKE', expires_in: 32400, nonce: 'fake' });
      return;
    }
    if (!parsed.pathname.startsWith('/v1/notifications/certs/') && request.headers.authorization !== `Bearer ${token}`) {
      send(response, 401, { name: 'AUTHENTICATION_FAILURE', message: 'Authentication failed due to invalid authentication credentials or a missing Authorization header.' });
      return;
    }
    const replayKey = requestId ? `${request.method} ${parsed.pathname} ${requestId}` : undefined;
    if (replayKey && replays.has(replayKey)) {
      const replay = replays.get(replayKey)!;
      send(response, replay.status, replay.body);
      return;
    }
    const answer = await route(request.method ?? 'GET', parsed.pathname, request.headers, body);
    if (replayKey && answer.status < 500) replays.set(replayKey, answer);
    if (typeof answer.body === 'string') {
      response.writeHead(answer.status, { 'content-type': 'application/x-pem-file' });
      response.end(answer.body);
      return;
    }
    send(response, answer.status, answer.body);
  });
  baseUrl = url;
  const certUrl = `${url}/v1/notifications/certs/CERT-ledgerline-test`;

  const fake: FakePaypal = {
    url,
    clientId,
    clientSecret,
    webhookId,
    certUrl,
    env: () => ({ PAYPAL_CLIENT_ID: clientId, PAYPAL_CLIENT_SECRET: clientSecret, PAYPAL_WEBHOOK_ID: webhookId, PAYPAL_API_BASE: url }),
    requests,
    failures,
    orders,
    captures,
    captureStatus: 'COMPLETED',
    approve(orderId) {
      const order = orders.get(orderId);
      if (!order) throw new Error(`no order ${orderId}`);
      order.status = 'APPROVED';
    },
    capturedPayment(input) {
      const order: OrderState = {
        id: paypalId(),
        status: 'COMPLETED',
        purchaseUnit: { amount: { currency_code: input.currency, value: input.amount }, custom_id: input.customId },
        returnUrl: null,
        captureRequestId: null,
        captures: [],
      };
      orders.set(order.id, order);
      return newCapture(order, input.status ?? 'COMPLETED');
    },
    captureResource,
    refundResource: (capture, amount, overrides = {}) => ({
      id: paypalId(),
      status: 'COMPLETED',
      amount: { currency_code: capture.amount.currency_code, value: amount },
      create_time: new Date().toISOString(),
      links: [
        { href: `${baseUrl}/v2/payments/refunds/X`, rel: 'self', method: 'GET' },
        { href: `${baseUrl}/v2/payments/captures/${capture.id}`, rel: 'up', method: 'GET' },
      ],
      ...overrides,
    }),
    event: (eventType, resource, overrides = {}) => ({
      id: `WH-${randomBytes(8).toString('hex').toUpperCase()}`,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type: eventType.includes('REFUNDED') ? 'refund' : 'capture',
      resource_version: '2.0',
      event_type: eventType,
      summary: eventType,
      resource,
      links: [],
      ...overrides,
    }),
    sign(raw, options = {}) {
      const transmissionId = options.transmissionId ?? randomBytes(16).toString('hex');
      const time = options.time ?? new Date().toISOString();
      const message = `${transmissionId}|${time}|${options.webhookId ?? webhookId}|${crc32(Buffer.from(raw, 'utf8'))}`;
      return {
        'paypal-transmission-id': transmissionId,
        'paypal-transmission-time': time,
        'paypal-transmission-sig': sign('sha256', Buffer.from(message, 'utf8'), options.privateKey ?? certificate.privateKey).toString('base64'),
        'paypal-cert-url': options.certUrl ?? certUrl,
        'paypal-auth-algo': options.algo ?? 'SHA256withRSA',
      };
    },
    deliver(t, event, options = {}) {
      const raw = typeof event === 'string' ? event : JSON.stringify(event);
      const headers: Record<string, string> = { 'content-type': 'application/json', ...fake.sign(raw, options) };
      for (const [name, value] of Object.entries(options.headers ?? {})) {
        if (value === undefined) delete headers[name];
        else headers[name] = value;
      }
      return t.inject({ method: 'POST', url: '/webhooks/paypal', headers, payload: raw });
    },
    close: () => close(server),
  };
  return fake;
}
