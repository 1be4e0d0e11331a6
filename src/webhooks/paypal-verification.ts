/**
 * Offline verification of a PayPal webhook transmission, as PayPal specifies it: an RSA-SHA256
 * signature (`PAYPAL-TRANSMISSION-SIG`, base64) over
 *
 *   <transmission id>|<transmission time>|<our webhook id>|<CRC32 of the raw body, unsigned decimal>
 *
 * with the public key of the certificate at `PAYPAL-CERT-URL`. The certificate is only ever
 * fetched from PayPal's own API hosts over https (so a forger cannot point us at their own
 * key); outside production the origin of PAYPAL_API_BASE is allowed too, so tests can serve a
 * test certificate from a local fake. A transmission more than 5 minutes old (or ahead) is
 * refused, so a captured delivery cannot be replayed later. Pure functions.
 */
import { verify as verifySignature, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const PAYPAL_TOLERANCE_MS = 5 * 60 * 1000;
export const PAYPAL_CERT_HOSTS: ReadonlySet<string> = new Set(['api.paypal.com', 'api-m.paypal.com', 'api.sandbox.paypal.com', 'api-m.sandbox.paypal.com']);
export const PAYPAL_CERT_PATH = '/v1/notifications/certs/';

export interface PaypalTransmission {
  transmissionId: string;
  transmissionTime: string;
  signature: string;
  certUrl: string;
  authAlgo: string;
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' && value.length > 0 && value.length <= 2048 ? value : undefined;
}

/** The five transmission headers, or undefined when any is missing (or given twice). */
export function readTransmission(headers: Headers): PaypalTransmission | undefined {
  const transmissionId = header(headers, 'paypal-transmission-id');
  const transmissionTime = header(headers, 'paypal-transmission-time');
  const signature = header(headers, 'paypal-transmission-sig');
  const certUrl = header(headers, 'paypal-cert-url');
  const authAlgo = header(headers, 'paypal-auth-algo');
  if (!transmissionId || !transmissionTime || !signature || !certUrl || !authAlgo) return undefined;
  return { transmissionId, transmissionTime, signature, certUrl, authAlgo };
}

/** The signed message. */
export function transmissionMessage(transmission: Pick<PaypalTransmission, 'transmissionId' | 'transmissionTime'>, webhookId: string, raw: Buffer): string {
  return `${transmission.transmissionId}|${transmission.transmissionTime}|${webhookId}|${crc32(raw)}`;
}

/** Within five minutes of now, either way. */
export function transmissionFresh(transmissionTime: string, now: number = Date.now()): boolean {
  const time = Date.parse(transmissionTime);
  return Number.isFinite(time) && Math.abs(now - time) <= PAYPAL_TOLERANCE_MS;
}

/** Whether we may fetch a certificate from `url`: PayPal's hosts over https, or (not in production) the configured API origin. */
export function certificateUrlAllowed(url: string, options: { production: boolean; apiBase?: string }): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password || !parsed.pathname.startsWith(PAYPAL_CERT_PATH) || parsed.pathname.includes('..')) return false;
  if (parsed.protocol === 'https:' && PAYPAL_CERT_HOSTS.has(parsed.hostname) && (parsed.port === '' || parsed.port === '443')) return true;
  if (options.production || !options.apiBase) return false;
  try {
    return parsed.origin === new URL(options.apiBase).origin;
  } catch {
    return false;
  }
}

/** RSA-SHA256 over the message with the certificate's key. */
export function signatureValid(message: string, signature: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || signature.length > 2048) return false;
  try {
    return verifySignature('sha256', Buffer.from(message, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
