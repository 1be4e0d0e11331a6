/**
 * ISO 4217 active currency codes that an invoice can be issued in, with their minor-unit
 * exponent (the number of decimal places of the minor unit) as published by ISO, not as used
 * in cash practice: HUF and IDR are 2 here even though cash has no fractions.
 *
 * Left out on purpose: fund and unit-of-account codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
 * UYW), precious metals, XDR and other "N.A." codes (no minor unit, not invoiceable), and codes
 * that were withdrawn or are mid-replacement (HRK, SLL, CUC, ANG/XCG, BGN, VED), so that a
 * code's presence here is never in doubt. Adding one is a one-line change.
 */
import { MoneyError } from './money-error.js';

const ZERO_DECIMALS = ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'];

const THREE_DECIMALS = ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'];

const TWO_DECIMALS = [
  'AED', 'AFN', 'ALL', 'AMD', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BMD', 'BND',
  'BOB', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHF', 'CNY', 'COP', 'CRC', 'CUP',
  'CVE', 'CZK', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS',
  'GIP', 'GMD', 'GTQ', 'GYD', 'HKD', 'HNL', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IRR', 'JMD', 'KES',
  'KGS', 'KHR', 'KPW', 'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL', 'MAD', 'MDL', 'MGA', 'MKD',
  'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK',
  'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'QAR', 'RON', 'RSD', 'RUB', 'SAR', 'SBD',
  'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL', 'THB',
  'TJS', 'TMT', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'USD', 'UYU', 'UZS', 'VES', 'WST', 'XCD',
  'YER', 'ZAR', 'ZMW', 'ZWG',
];

// A Map, not an object literal: a code such as "constructor" or "__proto__" must not be found
// on a prototype.
export const CURRENCIES: ReadonlyMap<string, number> = new Map([
  ...ZERO_DECIMALS.map((code) => [code, 0] as const),
  ...TWO_DECIMALS.map((code) => [code, 2] as const),
  ...THREE_DECIMALS.map((code) => [code, 3] as const),
]);

const CODE_SHAPE = /^[A-Z]{3}$/;

/** True only for an upper-case three-letter code in the table: "usd" and " USD" are not currencies. */
export function isCurrency(code: unknown): code is string {
  return typeof code === 'string' && CODE_SHAPE.test(code) && CURRENCIES.has(code);
}

/** The minor-unit exponent of `code`; throws `MoneyError('unknown_currency')` for anything not in the table. */
export function minorUnits(code: string): number {
  if (!isCurrency(code)) throw new MoneyError('unknown_currency', `Unknown currency code ${JSON.stringify(String(code).slice(0, 8))}.`);
  return CURRENCIES.get(code) as number;
}
