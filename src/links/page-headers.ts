import type { HelmetOptions } from 'helmet';
import { computeSecurityHeaders } from '../common/http/security-headers.js';
import { PAGE_CSS_HASH } from './page-styles.js';

/**
 * Helmet's full set for HTML documents (the API's set leaves the HTML-only headers off), with
 * a CSP that allows nothing but the one hashed stylesheet and forms posting back to this
 * origin: no script at all, no images, frames, fonts or connections; the page cannot be framed.
 *
 * Payments: "Pay by card" and "Pay with PayPal" post to this origin, which answers 303 to the
 * provider's hosted page; `form-action` also governs redirects after a form submission, so
 * the providers' origins are listed there. `Referrer-Policy: no-referrer` keeps the signed URL
 * (the token) out of the Referer the provider would otherwise receive.
 */
export const PAGE_HELMET_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      styleSrc: [PAGE_CSS_HASH],
      formAction: ["'self'", 'https://checkout.stripe.com', 'https://www.paypal.com', 'https://www.sandbox.paypal.com'],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
  },
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  referrerPolicy: { policy: 'no-referrer' },
  xFrameOptions: { action: 'deny' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  xDnsPrefetchControl: { allow: false },
  xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
};

/** Every response of the public pages: HTML, JSON, PDF and their errors. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...computeSecurityHeaders(PAGE_HELMET_OPTIONS),
  // A page holds a customer's document: never kept by the browser, a proxy or the back button.
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'x-robots-tag': 'noindex, nofollow, noarchive',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  // The same URL answers HTML or JSON.
  vary: 'Accept',
});
