import { X509Certificate, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { certificateUrlAllowed, readTransmission, signatureValid, transmissionFresh, transmissionMessage } from './paypal-verification.js';

const FETCH_TIMEOUT_MS = 5_000;
const MAX_CERT_BYTES = 64 * 1024;
const CACHE_MS = 24 * 3600 * 1000;
const CACHE_ENTRIES = 16;

/** The certificate could not be fetched for a reason that is not the sender's fault (network, PayPal 5xx): retry later. */
export class CertificateUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateUnavailable';
  }
}

export type PaypalVerification = { ok: true } | { ok: false; reason: string };

/**
 * PayPal transmission verification with PayPal's signing certificates, fetched only from
 * allowed URLs (see `certificateUrlAllowed`), never following redirects, and cached per URL
 * (at most a day, never past the certificate's own expiry).
 */
@Injectable()
export class PaypalCertificates {
  private readonly cache = new Map<string, { key: KeyObject; until: number }>();
  // One fetch per URL at a time: concurrent deliveries signed with a new certificate share it.
  private readonly inflight = new Map<string, Promise<KeyObject | undefined>>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get configured(): boolean {
    return this.config.paypal !== undefined;
  }

  async verify(raw: Buffer | undefined, headers: Record<string, string | string[] | undefined>, now: number = Date.now()): Promise<PaypalVerification> {
    const paypal = this.config.paypal;
    if (!paypal) return { ok: false, reason: 'not_configured' };
    if (!raw || raw.length === 0) return { ok: false, reason: 'missing_body' };
    const transmission = readTransmission(headers);
    if (!transmission) return { ok: false, reason: 'missing_transmission_headers' };
    if (transmission.authAlgo !== 'SHA256withRSA') return { ok: false, reason: 'unsupported_algorithm' };
    if (!transmissionFresh(transmission.transmissionTime, now)) return { ok: false, reason: 'stale_transmission' };
    if (!certificateUrlAllowed(transmission.certUrl, { production: this.config.nodeEnv === 'production', apiBase: paypal.apiBase })) {
      return { ok: false, reason: 'certificate_url_not_allowed' };
    }
    const key = await this.publicKey(transmission.certUrl, now);
    if (!key) return { ok: false, reason: 'certificate_invalid' };
    const message = transmissionMessage(transmission, paypal.webhookId, raw);
    return signatureValid(message, transmission.signature, key) ? { ok: true } : { ok: false, reason: 'invalid_signature' };
  }

  private async publicKey(url: string, now: number): Promise<KeyObject | undefined> {
    const cached = this.cache.get(url);
    if (cached && cached.until > now) return cached.key;
    let request = this.inflight.get(url);
    if (!request) {
      request = this.fetchKey(url, now).finally(() => this.inflight.delete(url));
      this.inflight.set(url, request);
    }
    return request;
  }

  private async fetchKey(url: string, now: number): Promise<KeyObject | undefined> {
    let response: Response;
    try {
      response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/x-pem-file, text/plain' } });
    } catch (error) {
      throw new CertificateUnavailable(`PayPal certificate could not be fetched: ${(error as Error).message}`);
    }
    if (response.status >= 500 || response.status === 429) throw new CertificateUnavailable(`PayPal answered ${response.status} for its certificate`);
    if (response.status !== 200) return undefined;
    const body = Buffer.from(await response.arrayBuffer());
    if (body.length > MAX_CERT_BYTES) return undefined;
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(body.toString('ascii'))?.[0];
    if (!pem) return undefined;
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch {
      return undefined;
    }
    const validFrom = Date.parse(certificate.validFrom);
    const validTo = Date.parse(certificate.validTo);
    if (!(validFrom <= now && now < validTo)) return undefined;
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(url, { key: certificate.publicKey, until: Math.min(validTo, now + CACHE_MS) });
    return certificate.publicKey;
  }
}
