import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, type PaypalConfig } from '../config/config.js';
import { isCurrency } from '../common/money/currencies.js';
import { formatDecimalAmount, invoiceReferenceFromCustomId, parseDecimalAmount, paypalCustomId, type InvoiceReference } from './payment-rules.js';
import { ProviderError, ProviderNotConfigured } from './provider-error.js';

const TIMEOUT_MS = 8_000;
// Refresh the OAuth token a minute before PayPal says it expires.
const TOKEN_MARGIN_MS = 60_000;
const MAX_RESPONSE_BYTES = 256 * 1024;

/** What we keep of a capture: ids, amounts, fee and net, status. */
export interface PaypalCaptureFacts {
  captureId: string;
  orderId: string | null;
  status: string;
  amount: bigint;
  currency: string;
  fee: bigint | null;
  net: bigint | null;
  reference: InvoiceReference | undefined;
  customId: string | null;
  createTime: string | null;
}

export interface PaypalOrderFacts {
  orderId: string;
  status: string;
  approveUrl: string | null;
  captures: PaypalCaptureFacts[];
}

type Json = Record<string, unknown>;

function object(value: unknown): Json | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 255 ? value : null;
}

/** A PayPal money object `{ currency_code, value }` in minor units, or null when absent or malformed. */
export function paypalMoney(value: unknown): { amount: bigint; currency: string } | null {
  const money = object(value);
  const currency = money?.currency_code;
  if (!isCurrency(currency)) return null;
  try {
    return { amount: parseDecimalAmount(money?.value, currency), currency };
  } catch {
    return null;
  }
}

/** A capture resource (from the API or a webhook) as facts; undefined when it is not one. */
export function captureFacts(resource: unknown, orderId: string | null = null): PaypalCaptureFacts | undefined {
  const capture = object(resource);
  const captureId = text(capture?.id);
  const money = paypalMoney(capture?.amount);
  if (!capture || !captureId || !money) return undefined;
  const breakdown = object(capture.seller_receivable_breakdown);
  const fee = paypalMoney(breakdown?.paypal_fee);
  const net = paypalMoney(breakdown?.net_amount);
  const related = object(object(capture.supplementary_data)?.related_ids);
  const customId = text(capture.custom_id);
  return {
    captureId,
    orderId: text(related?.order_id) ?? orderId,
    status: text(capture.status) ?? 'UNKNOWN',
    amount: money.amount,
    currency: money.currency,
    fee: fee && fee.currency === money.currency ? fee.amount : null,
    net: net && net.currency === money.currency ? net.amount : null,
    reference: invoiceReferenceFromCustomId(customId),
    customId,
    createTime: text(capture.create_time),
  };
}

function orderFacts(body: Json): PaypalOrderFacts {
  const orderId = text(body.id) ?? '';
  const links = Array.isArray(body.links) ? body.links.map(object) : [];
  const approve = links.find((link) => link?.rel === 'payer-action' || link?.rel === 'approve');
  const captures: PaypalCaptureFacts[] = [];
  for (const unit of Array.isArray(body.purchase_units) ? body.purchase_units : []) {
    const list = object(object(unit)?.payments)?.captures;
    for (const capture of Array.isArray(list) ? list : []) {
      const facts = captureFacts(capture, orderId);
      if (facts) captures.push(facts);
    }
  }
  return { orderId, status: text(body.status) ?? 'UNKNOWN', approveUrl: typeof approve?.href === 'string' ? approve.href : null, captures };
}

/**
 * PayPal Orders v2 over its REST API (the server SDK only knows PayPal's own two hosts, so a
 * configurable base URL means calling the API directly). OAuth2 client credentials, token
 * cached until shortly before it expires. Every creating call carries a `PayPal-Request-Id`,
 * PayPal's idempotency key, so a retry never creates or captures twice.
 */
@Injectable()
export class PaypalGateway {
  private token?: { value: string; expiresAt: number };
  private tokenRequest?: Promise<string>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get configured(): boolean {
    return this.config.paypal !== undefined;
  }

  async createOrder(
    input: { reference: InvoiceReference; amount: bigint; currency: string; description: string; returnUrl: string; cancelUrl: string },
    requestId: string,
  ): Promise<PaypalOrderFacts> {
    const body = await this.request('POST', '/v2/checkout/orders', {
      requestId,
      body: {
        intent: 'CAPTURE',
        purchase_units: [
          {
            reference_id: input.reference.invoiceId,
            custom_id: paypalCustomId(input.reference),
            description: input.description.slice(0, 127),
            amount: { currency_code: input.currency, value: formatDecimalAmount(input.amount, input.currency) },
          },
        ],
        payment_source: {
          paypal: { experience_context: { return_url: input.returnUrl, cancel_url: input.cancelUrl, user_action: 'PAY_NOW', shipping_preference: 'NO_SHIPPING' } },
        },
      },
    });
    return orderFacts(body);
  }

  /**
   * Captures an approved order. The request id is stable per order, so a retry replays the first
   * capture; an order captured by an earlier request (ORDER_ALREADY_CAPTURED) is re-read and
   * treated as success.
   */
  async captureOrder(orderId: string): Promise<PaypalOrderFacts> {
    try {
      return orderFacts(await this.request('POST', `/v2/checkout/orders/${encodeURIComponent(orderId)}/capture`, { requestId: `ledgerline-capture-${orderId}`, body: {} }));
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'ORDER_ALREADY_CAPTURED') return this.order(orderId);
      throw error;
    }
  }

  async order(orderId: string): Promise<PaypalOrderFacts> {
    return orderFacts(await this.request('GET', `/v2/checkout/orders/${encodeURIComponent(orderId)}`));
  }

  async capture(captureId: string): Promise<PaypalCaptureFacts> {
    const facts = captureFacts(await this.request('GET', `/v2/payments/captures/${encodeURIComponent(captureId)}`));
    if (!facts) throw new ProviderError('paypal', false, 'malformed_capture', 'PayPal answered with something that is not a capture');
    return facts;
  }

  async refundCapture(input: { captureId: string; amount: bigint; currency: string; refundId: string }, requestId: string): Promise<{ id: string; status: string }> {
    const body = await this.request('POST', `/v2/payments/captures/${encodeURIComponent(input.captureId)}/refund`, {
      requestId,
      body: { amount: { currency_code: input.currency, value: formatDecimalAmount(input.amount, input.currency) }, custom_id: input.refundId },
    });
    const id = text(body.id);
    if (!id) throw new ProviderError('paypal', false, 'malformed_refund', 'PayPal answered a refund without an id');
    return { id, status: text(body.status) ?? 'PENDING' };
  }

  private settings(): PaypalConfig {
    if (!this.config.paypal) throw new ProviderNotConfigured('paypal');
    return this.config.paypal;
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now()) return this.token.value;
    // One token request at a time: concurrent callers share it.
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const settings = this.settings();
    const basic = Buffer.from(`${settings.clientId}:${settings.clientSecret}`, 'utf8').toString('base64');
    const response = await this.send(`${settings.apiBase.replace(/\/+$/, '')}/v1/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
    });
    const body = object(response.body);
    const value = typeof body?.access_token === 'string' && body.access_token.length > 0 ? body.access_token : null;
    if (response.status !== 200 || !value) throw failure(response.status, body);
    const lifetime = typeof body?.expires_in === 'number' ? body.expires_in * 1000 : 0;
    this.token = { value, expiresAt: Date.now() + Math.max(0, lifetime - TOKEN_MARGIN_MS) };
    return value;
  }

  private async request(method: 'GET' | 'POST', path: string, options: { requestId?: string; body?: unknown } = {}, retried = false): Promise<Json> {
    const settings = this.settings();
    const token = await this.accessToken();
    const response = await this.send(`${settings.apiBase.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        prefer: 'return=representation',
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.requestId ? { 'paypal-request-id': options.requestId } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    if (response.status === 401 && !retried) {
      // The token was revoked or expired early: fetch a new one once.
      this.token = undefined;
      return this.request(method, path, options, true);
    }
    const body = object(response.body);
    if (response.status < 200 || response.status >= 300 || !body) throw failure(response.status, body);
    return body;
  }

  private async send(url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
    let response: Response;
    try {
      response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      throw new ProviderError('paypal', true, 'network_error', `PayPal could not be reached: ${(error as Error).message}`);
    }
    const raw = Buffer.from(await response.arrayBuffer());
    if (raw.length > MAX_RESPONSE_BYTES) throw new ProviderError('paypal', false, 'response_too_large', 'PayPal answered with an oversized body', response.status);
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, body };
  }
}

/** PayPal's error body (`name`, `details[].issue`) as a ProviderError; 5xx and 429 are transient. */
function failure(status: number, body: Json | undefined): ProviderError {
  const details = Array.isArray(body?.details) ? body.details.map(object) : [];
  const issue = text(details[0]?.issue) ?? text(body?.name) ?? text(body?.error) ?? `http_${status}`;
  const message = text(details[0]?.description) ?? text(body?.message) ?? text(body?.error_description) ?? `PayPal answered ${status}`;
  return new ProviderError('paypal', status >= 500 || status === 429 || status === 408, issue, message, status);
}
