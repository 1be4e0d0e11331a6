import { createHash } from 'node:crypto';
import type { EstimateView } from '../invoices/estimate-view.js';
import type { InvoiceView } from '../invoices/invoice-view.js';
import { displayDate, money, renderEstimatePage, renderExpiredLinkPage, renderInvalidLinkPage, renderInvoicePage } from './page-render.js';
import { PAGE_CSS, PAGE_CSS_HASH } from './page-styles.js';
import { publicEstimate, publicInvoice, taxRows, type DocumentParties } from './public-views.js';

const EVIL = `<script>alert("x")</script>&'"`;

function invoiceView(overrides: Partial<InvoiceView> = {}): InvoiceView {
  return {
    id: '0b3c2a4e-8f1d-4c5b-9a6e-1d2c3b4a5f60', number: 'INV-2026-0001', status: 'open', displayStatus: 'open', overdue: false,
    customerId: 'c0000000-0000-4000-8000-000000000001', currency: 'EUR', issueDate: '2026-11-01', dueDate: '2026-11-30', notes: 'Thanks!', terms: null,
    lines: [
      { description: 'Boiler service', quantity: '2.5', unitPrice: 1999, taxRateBps: 2000, discount: 0, subtotal: 4998, discountTotal: 0, tax: 1000, total: 5998 },
      { description: 'Parts', quantity: '3', unitPrice: 1000, taxRateBps: 825, discount: 500, subtotal: 3000, discountTotal: 500, tax: 206, total: 2706 },
    ],
    discount: 0, subtotal: 7998, discountTotal: 500, taxTotal: 1206, total: 8704, creditedTotal: 0, amountPaid: 0, balanceDue: 8704, version: 3,
    createdAt: '2026-11-01T10:00:00.000Z', updatedAt: '2026-11-02T10:00:00.000Z', finalizedAt: '2026-11-01T10:00:00.000Z', sentAt: null, lastSentAt: null,
    sendCount: 0, viewedAt: null, voidedAt: null, voidReason: 'internal reason', sourceEstimateId: null, recurringInvoiceId: null,
    ...overrides,
  };
}

const parties: DocumentParties = { business: { name: 'Ace Plumbing', address: '1 High St', paymentInstructions: 'IBAN DE00 1234' }, customerName: 'Carla Customer' };
const context = { selfPath: '/pay/0b3c2a4e-8f1d-4c5b-9a6e-1d2c3b4a5f60?t=abc&d=1&e=0', pdfPath: '/pay/0b3c2a4e-8f1d-4c5b-9a6e-1d2c3b4a5f60/pdf?t=abc&d=1&e=0' };
const noProviders = { providers: { card: false, paypal: false }, pdfUrl: 'https://x.test/pdf' };

function page(overrides: Partial<InvoiceView> = {}, options = noProviders, partiesOverride: DocumentParties = parties): string {
  return renderInvoicePage(publicInvoice(invoiceView(overrides), partiesOverride, options), context);
}

describe('page rendering', () => {
  it('is a complete, accessible document without any script', () => {
    const html = page();
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html.match(/<main>/g)).toHaveLength(1);
    expect(html.match(/<h1>/g)).toHaveLength(1);
    expect(html).toContain('<th scope="col">Item</th>');
    expect(html).toContain('<th scope="row">Boiler service');
    expect(html).not.toMatch(/<script|\son\w+=|javascript:/i);
  });

  it('styles only with the one hashed <style> element', () => {
    const html = page();
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1]);
    expect(styles).toEqual([PAGE_CSS]);
    expect(PAGE_CSS_HASH).toBe(`'sha256-${createHash('sha256').update(styles[0]).digest('base64')}'`);
    expect(html).not.toMatch(/ style=/);
  });

  it('shows the business, number, dates, lines, taxes per rate, totals, paid and balance', () => {
    const html = page({ amountPaid: 1000, balanceDue: 7704, status: 'partially_paid', displayStatus: 'partially_paid' });
    for (const expected of ['Ace Plumbing', 'Invoice INV-2026-0001', '1 November 2026', '30 November 2026', 'Boiler service', '<span>2.5 × 19.99 EUR</span> · <span>tax 20%</span>', '<span>discount −5.00 EUR</span>', '59.98 EUR', 'Tax 8.25%', '2.06 EUR', 'Tax 20%', '10.00 EUR', '87.04 EUR', '−10.00 EUR', '77.04 EUR', 'Partially paid', 'Carla Customer', 'IBAN DE00 1234', 'Thanks!']) {
      expect(html).toContain(expected);
    }
  });

  it('escapes every value from the database, in text and in attributes', () => {
    const html = page(
      { number: EVIL, notes: EVIL, lines: [{ description: EVIL, quantity: '1', unitPrice: 100, taxRateBps: 0, discount: 0, subtotal: 100, discountTotal: 0, tax: 0, total: 100 }], subtotal: 100, taxTotal: 0, total: 100, balanceDue: 100, discountTotal: 0 },
      noProviders,
      { business: { name: EVIL, address: EVIL, paymentInstructions: EVIL }, customerName: EVIL },
    );
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('"x"');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;');
    const attack = renderExpiredLinkPage('/pay/x?t="><script>alert(1)</script>');
    expect(attack).not.toContain('<script>alert(1)');
    expect(attack).toContain('action="/pay/x?t=&quot;&gt;&lt;script&gt;');
  });

  it('shows pay buttons only for a configured provider, as POST forms back to the signed URL', () => {
    expect(page()).not.toMatch(/Pay by card|Pay with PayPal/);
    const both = page({}, { providers: { card: true, paypal: true }, pdfUrl: 'x' });
    expect(both).toContain('<form method="post" action="/pay/0b3c2a4e-8f1d-4c5b-9a6e-1d2c3b4a5f60/checkout/stripe?t=abc&amp;d=1&amp;e=0"><input type="hidden" name="action" value="pay_card"><button type="submit" class="button primary">Pay by card</button></form>');
    expect(both).toContain('Pay with PayPal');
    const cardOnly = page({}, { providers: { card: true, paypal: false }, pdfUrl: 'x' });
    expect(cardOnly).toContain('Pay by card');
    expect(cardOnly).not.toContain('Pay with PayPal');
  });

  it('shows a receipt instead of pay buttons for a paid invoice', () => {
    const html = page({ status: 'paid', displayStatus: 'paid', amountPaid: 8704, balanceDue: 0, updatedAt: '2026-11-20T09:00:00.000Z' }, { providers: { card: true, paypal: true }, pdfUrl: 'x' });
    expect(html).toContain('Receipt');
    expect(html).toContain('Paid in full on <time datetime="2026-11-20">20 November 2026</time>');
    expect(html).not.toMatch(/Pay by card|Pay with PayPal/);
  });

  it('shows "void" and no buttons, payment instructions or void reason for a void invoice', () => {
    const html = page({ status: 'void', displayStatus: 'void', voidedAt: '2026-11-05T00:00:00.000Z' }, { providers: { card: true, paypal: true }, pdfUrl: 'x' });
    expect(html).toContain('This invoice is void');
    expect(html).not.toMatch(/Pay by card|Pay with PayPal|IBAN|internal reason/);
  });

  it('links the signed PDF', () => {
    expect(page()).toContain(`href="${context.pdfPath.replace(/&/g, '&amp;')}" download>Download PDF</a>`);
  });

  it('says nothing on the invalid-link page, and offers a fresh link on the expired one', () => {
    const invalid = renderInvalidLinkPage();
    expect(invalid).toContain('This link is not valid');
    expect(invalid).not.toContain('<form');
    const expired = renderExpiredLinkPage('/pay/x?t=a&d=1&e=0');
    expect(expired).toContain('This link has expired');
    expect(expired).toContain('name="action" value="fresh_link"');
    expect(expired).toContain('Email me a fresh link');
  });

  describe('the estimate page', () => {
    const estimate = (overrides: Partial<EstimateView> = {}): EstimateView => ({
      id: '1b3c2a4e-8f1d-4c5b-9a6e-1d2c3b4a5f60', number: 'EST-2026-0001', status: 'sent', customerId: 'c', currency: 'EUR', issueDate: '2026-11-01', expiryDate: '2026-12-01',
      notes: null, terms: 'Half up front', lines: invoiceView().lines, discount: 0, subtotal: 7998, discountTotal: 500, taxTotal: 1206, total: 8704, version: 1,
      createdAt: '', updatedAt: '', sentAt: null, lastSentAt: null, sendCount: 1, viewedAt: null, acceptedAt: null, declinedAt: null, convertedAt: null, convertedInvoiceId: null,
      ...overrides,
    });
    it('offers Accept and Decline while the estimate is sent', () => {
      const html = renderEstimatePage(publicEstimate(estimate(), parties), { selfPath: '/estimate/x?t=a&d=1&e=0' });
      expect(html).toContain('Estimate EST-2026-0001');
      expect(html).toContain('value="accept"');
      expect(html).toContain('value="decline"');
      expect(html).toContain('1 December 2026');
      expect(html).toContain('Half up front');
    });
    it.each<[EstimateView['status'], string]>([
      ['accepted', 'This estimate was accepted on'],
      ['converted', 'This estimate was accepted on'],
      ['declined', 'This estimate was declined'],
      ['expired', 'This estimate was valid until'],
    ])('shows the outcome and no buttons when %s', (status, expected) => {
      const html = renderEstimatePage(publicEstimate(estimate({ status, acceptedAt: '2026-11-03T10:00:00.000Z' }), parties), { selfPath: '/e' });
      expect(html).toContain(expected);
      expect(html).not.toContain('<form');
    });
  });

  describe('helpers', () => {
    it('formats dates on the UTC calendar and money in ISO minor units', () => {
      expect(displayDate('2026-01-09')).toBe('9 January 2026');
      expect(displayDate('2026-12-31T23:59:59.000Z')).toBe('31 December 2026');
      expect(displayDate('nonsense')).toBe('nonsense');
      expect(money(123456, 'EUR')).toBe('1234.56 EUR');
      expect(money(550, 'JPY')).toBe('550 JPY');
      expect(money(2750, 'BHD')).toBe('2.750 BHD');
    });
    it('groups tax by rate, and falls back to one row when the lines do not add up', () => {
      const lines = invoiceView().lines;
      expect(taxRows(lines, 1206)).toEqual([{ rateBps: 825, amount: 206 }, { rateBps: 2000, amount: 1000 }]);
      expect(taxRows(lines, 1207)).toEqual([]);
    });
  });
});
