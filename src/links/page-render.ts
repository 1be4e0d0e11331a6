/**
 * Server-rendered HTML for the public link pages, as pure functions: a view in, a complete
 * document out. No JavaScript anywhere; every action is a plain POST form. Every piece of
 * text and every attribute value goes through `escapeHtml` (the only way values reach the
 * markup is the `text`/`attr` helpers below). Accessible: `lang`, one `<h1>`, `<main>`,
 * headings per section, tables with `<caption>` and `<th scope>`, dates in `<time>`, status as
 * text (never colour alone), labelled buttons at least 48 px tall.
 */
import { formatMoney } from '../common/money/money.js';
import { statusLabel, taxRateText } from '../invoices/invoice-pdf.js';
import { escapeHtml } from '../notifications/templates.js';
import { PAGE_CSS } from './page-styles.js';
import type { PublicEstimate, PublicInvoice, PublicLine, TaxRow } from './public-views.js';

/** Escapes text for element content and quoted attribute values. */
const text = (value: string | number | null | undefined): string => escapeHtml(String(value ?? ''));
const attr = text;

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "2026-11-01" (or an ISO instant) → "1 November 2026", on the UTC calendar. */
export function displayDate(value: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!match) return value;
  const month = MONTHS[Number(match[2]) - 1];
  return month ? `${Number(match[3])} ${month} ${match[1]}` : value;
}

function time(value: string): string {
  return `<time datetime="${attr(value.slice(0, 10))}">${text(displayDate(value))}</time>`;
}

/** "1234.50 EUR", the same amounts as the PDF and the emails. */
export function money(amount: number, currency: string): string {
  return `${formatMoney(BigInt(amount), currency)} ${currency}`;
}

function minus(amount: number, currency: string): string {
  return amount === 0 ? money(0, currency) : `−${money(amount, currency)}`;
}

const ESTIMATE_STATUS: Record<PublicEstimate['status'], string> = {
  draft: 'Draft',
  sent: 'Awaiting your answer',
  accepted: 'Accepted',
  declined: 'Declined',
  expired: 'Expired',
  converted: 'Accepted',
};

export function layout(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex, nofollow">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${text(title)}</title>`,
    `<style>${PAGE_CSS}</style>`,
    '</head>',
    '<body>',
    `<main>${body}</main>`,
    '</body>',
    '</html>',
  ].join('\n');
}

/** A POST form back to the signed URL (the URL is the capability), with one named action. */
/** The payments module's route for a pay button: the page's own signed URL with the action in the path. */
export function paymentPath(selfPath: string, action: 'pay_card' | 'pay_paypal'): string {
  const [path, query] = selfPath.split('?');
  return `${path}${action === 'pay_card' ? '/checkout/stripe' : '/paypal'}${query ? `?${query}` : ''}`;
}

function actionForm(actionPath: string, action: string, label: string, style: 'primary' | 'secondary' | 'danger'): string {
  return `<form method="post" action="${attr(actionPath)}"><input type="hidden" name="action" value="${attr(action)}"><button type="submit" class="button ${style}">${text(label)}</button></form>`;
}

function linesTable(lines: PublicLine[], currency: string): string {
  const rows = lines
    .map((line) => {
      const details = [`${line.quantity} × ${money(line.unitPrice, currency)}`, `tax ${taxRateText(line.taxRateBps)}`];
      if (line.discount > 0) details.push(`discount ${minus(line.discount, currency)}`);
      // Each part stays on one line when a narrow screen wraps the details.
      const detail = details.map((part) => `<span>${text(part)}</span>`).join(' · ');
      return `<tr><th scope="row">${text(line.description)}<span class="detail">${detail}</span></th><td class="num">${text(money(line.total, currency))}</td></tr>`;
    })
    .join('');
  return [
    '<section aria-labelledby="items-heading">',
    '<h2 id="items-heading">Items</h2>',
    '<table>',
    '<caption class="visually-hidden">Items, with quantity, unit price and tax; amounts include tax</caption>',
    '<thead><tr><th scope="col">Item</th><th scope="col" class="num">Amount (incl. tax)</th></tr></thead>',
    `<tbody>${rows}</tbody>`,
    '</table>',
    '</section>',
  ].join('');
}

function taxRowsHtml(taxes: TaxRow[], taxTotal: number, currency: string): string {
  if (taxes.length === 1) return amountRow(`Tax (${taxRateText(taxes[0].rateBps)})`, money(taxTotal, currency));
  if (taxes.length > 1) return taxes.map((row) => amountRow(`Tax ${taxRateText(row.rateBps)}`, money(row.amount, currency))).join('');
  return amountRow('Tax', money(taxTotal, currency));
}

function amountRow(label: string, value: string, className?: string): string {
  return `<tr${className ? ` class="${attr(className)}"` : ''}><th scope="row">${text(label)}</th><td class="num">${text(value)}</td></tr>`;
}

function totalsTable(rows: string): string {
  return ['<section aria-labelledby="totals-heading">', '<h2 id="totals-heading">Totals</h2>', `<table class="totals"><tbody>${rows}</tbody></table>`, '</section>'].join('');
}

function proseSection(id: string, heading: string, body: string | null): string {
  if (!body || !body.trim()) return '';
  return `<section aria-labelledby="${attr(id)}"><h2 id="${attr(id)}">${text(heading)}</h2><p class="prose">${text(body.trim())}</p></section>`;
}

function fact(label: string, value: string, className?: string): string {
  return `<div${className ? ` class="${attr(className)}"` : ''}><dt>${text(label)}</dt><dd>${value}</dd></div>`;
}

function documentHeader(businessName: string, title: string, statusClass: string, statusLabel: string): string {
  return [
    '<header>',
    `<p class="business">${text(businessName)}</p>`,
    `<h1>${text(title)}</h1>`,
    `<p class="status status-${attr(statusClass)}"><span class="visually-hidden">Status: </span>${text(statusLabel)}</p>`,
    '</header>',
  ].join('');
}

const FOOTER = '<footer><p>This page is private to you: anyone with its link can see it, so please do not forward the link.</p></footer>';

export interface InvoicePageContext {
  /** The signed page URL, relative (`/pay/<id>?t=…`): forms post back to it. */
  selfPath: string;
  /** The signed PDF URL, relative. */
  pdfPath: string;
}

export function renderInvoicePage(invoice: PublicInvoice, context: InvoicePageContext): string {
  const { currency } = invoice;
  const title = invoice.number ? `Invoice ${invoice.number}` : 'Invoice';
  const facts = [
    fact('Billed to', text(invoice.customer.name)),
    fact('Issued', time(invoice.issueDate)),
    fact('Due', time(invoice.dueDate)),
    fact('Balance due', text(money(invoice.balanceDue, currency)), 'due'),
  ];

  let action: string;
  if (invoice.status === 'void') {
    action = '<section class="notice notice-warn" aria-labelledby="void-heading"><h2 id="void-heading">This invoice is void</h2><p>It was cancelled, and nothing is owed on it.</p></section>';
  } else if (invoice.status === 'paid') {
    action = [
      '<section class="notice notice-ok" aria-labelledby="receipt-heading">',
      '<h2 id="receipt-heading">Receipt</h2>',
      `<p>Paid in full${invoice.paidAt ? ` on ${time(invoice.paidAt)}` : ''}. Thank you!</p>`,
      `<dl class="facts">${fact('Amount paid', text(money(invoice.amountPaid, currency)))}${invoice.paidAt ? fact('Paid on', time(invoice.paidAt)) : ''}</dl>`,
      '</section>',
    ].join('');
  } else {
    const buttons = [
      invoice.payment.card ? actionForm(paymentPath(context.selfPath, 'pay_card'), 'pay_card', 'Pay by card', 'primary') : '',
      invoice.payment.paypal ? actionForm(paymentPath(context.selfPath, 'pay_paypal'), 'pay_paypal', 'Pay with PayPal', 'secondary') : '',
    ].filter(Boolean);
    action = buttons.length
      ? `<section aria-labelledby="pay-heading"><h2 id="pay-heading">Pay ${text(money(invoice.balanceDue, currency))}</h2><div class="actions">${buttons.join('')}</div></section>`
      : '';
  }

  const totals = [
    amountRow('Subtotal', money(invoice.subtotal, currency)),
    invoice.discountTotal !== 0 ? amountRow('Discount', minus(invoice.discountTotal, currency)) : '',
    taxRowsHtml(invoice.taxes, invoice.taxTotal, currency),
    amountRow('Total', money(invoice.total, currency), 'grand'),
    invoice.creditedTotal !== 0 ? amountRow('Credited', minus(invoice.creditedTotal, currency)) : '',
    amountRow('Amount paid', minus(invoice.amountPaid, currency)),
    amountRow('Balance due', money(invoice.balanceDue, currency), 'grand'),
  ].join('');

  const body = [
    documentHeader(invoice.business.name, title, invoice.status, statusLabel(invoice.status)),
    `<dl class="facts">${facts.join('')}</dl>`,
    action,
    linesTable(invoice.lines, currency),
    totalsTable(totals),
    proseSection('notes-heading', 'Notes', invoice.notes),
    proseSection('terms-heading', 'Terms', invoice.terms),
    proseSection('instructions-heading', 'Payment instructions', invoice.paymentInstructions),
    proseSection('from-heading', `From ${invoice.business.name}`, invoice.business.address),
    `<div class="actions"><a class="button secondary" href="${attr(context.pdfPath)}" download>Download PDF</a></div>`,
    FOOTER,
  ];
  return layout(`${title} from ${invoice.business.name}`, body.join('\n'));
}

export function renderEstimatePage(estimate: PublicEstimate, context: { selfPath: string }): string {
  const { currency } = estimate;
  const title = estimate.number ? `Estimate ${estimate.number}` : 'Estimate';
  const facts = [
    fact('Prepared for', text(estimate.customer.name)),
    fact('Issued', time(estimate.issueDate)),
    fact('Valid until', time(estimate.expiryDate)),
    fact('Total', text(money(estimate.total, currency)), 'due'),
  ];

  let answer = '';
  if (estimate.canRespond) {
    answer = [
      '<section aria-labelledby="answer-heading">',
      '<h2 id="answer-heading">Your answer</h2>',
      `<p>Accepting tells ${text(estimate.business.name)} to go ahead on these terms. Once accepted, an estimate cannot be declined here.</p>`,
      '<div class="actions">',
      actionForm(context.selfPath, 'accept', 'Accept estimate', 'primary'),
      actionForm(context.selfPath, 'decline', 'Decline', 'danger'),
      '</div>',
      '</section>',
    ].join('');
  } else if (estimate.status === 'accepted' || estimate.status === 'converted') {
    answer = `<section class="notice notice-ok" aria-labelledby="answer-heading"><h2 id="answer-heading">Accepted</h2><p>This estimate was accepted${estimate.acceptedAt ? ` on ${time(estimate.acceptedAt)}` : ''}. Thank you: ${text(estimate.business.name)} can see your answer.</p></section>`;
  } else if (estimate.status === 'declined') {
    answer = `<section class="notice notice-warn" aria-labelledby="answer-heading"><h2 id="answer-heading">Declined</h2><p>This estimate was declined${estimate.declinedAt ? ` on ${time(estimate.declinedAt)}` : ''}. Contact ${text(estimate.business.name)} if you change your mind.</p></section>`;
  } else if (estimate.status === 'expired') {
    answer = `<section class="notice notice-warn" aria-labelledby="answer-heading"><h2 id="answer-heading">Expired</h2><p>This estimate was valid until ${time(estimate.expiryDate)}. Contact ${text(estimate.business.name)} for a new one.</p></section>`;
  }

  const totals = [
    amountRow('Subtotal', money(estimate.subtotal, currency)),
    estimate.discountTotal !== 0 ? amountRow('Discount', minus(estimate.discountTotal, currency)) : '',
    taxRowsHtml(estimate.taxes, estimate.taxTotal, currency),
    amountRow('Total', money(estimate.total, currency), 'grand'),
  ].join('');

  const body = [
    documentHeader(estimate.business.name, title, estimate.status, ESTIMATE_STATUS[estimate.status] ?? estimate.status),
    `<dl class="facts">${facts.join('')}</dl>`,
    answer,
    linesTable(estimate.lines, currency),
    totalsTable(totals),
    proseSection('notes-heading', 'Notes', estimate.notes),
    proseSection('terms-heading', 'Terms', estimate.terms),
    proseSection('from-heading', `From ${estimate.business.name}`, estimate.business.address),
    FOOTER,
  ];
  return layout(`${title} from ${estimate.business.name}`, body.join('\n'));
}

export interface MessagePage {
  title: string;
  paragraphs: string[];
  tone?: 'ok' | 'warn' | 'plain';
  /** One POST button back to the signed URL. */
  form?: { actionPath: string; action: string; label: string };
}

/** A page with a heading, some text and at most one button: errors, confirmations. */
export function renderMessagePage(page: MessagePage): string {
  const tone = page.tone ?? 'plain';
  const body = [
    `<section class="notice${tone === 'plain' ? '' : ` notice-${tone}`}" aria-labelledby="message-heading">`,
    `<h1 id="message-heading">${text(page.title)}</h1>`,
    ...page.paragraphs.map((paragraph) => `<p>${text(paragraph)}</p>`),
    page.form ? `<div class="actions">${actionForm(page.form.actionPath, page.form.action, page.form.label, 'primary')}</div>` : '',
    '</section>',
  ];
  return layout(page.title, body.join('\n'));
}

/** Tampered, wrong-kind, revoked, unknown or closed: one page that says nothing about which. */
export function renderInvalidLinkPage(): string {
  return renderMessagePage({
    title: 'This link is not valid',
    tone: 'warn',
    paragraphs: [
      'The link may have been copied incompletely, changed, or withdrawn by the business that sent it.',
      'Please ask the business that sent it for a new link.',
    ],
  });
}

/** An authentic link past its lifetime: offers a fresh link by email (to the address on file only). */
export function renderExpiredLinkPage(selfPath: string): string {
  return renderMessagePage({
    title: 'This link has expired',
    tone: 'warn',
    paragraphs: [
      'For your privacy, links to documents stop working after a while.',
      'We can email a fresh link to the email address the business has on file for you.',
    ],
    form: { actionPath: selfPath, action: 'fresh_link', label: 'Email me a fresh link' },
  });
}

export function renderFreshLinkSentPage(): string {
  return renderMessagePage({
    title: 'Check your email',
    tone: 'ok',
    paragraphs: [
      'If the business has an email address on file for you, a fresh link is on its way to it.',
      'Nothing arrived after a few minutes? Check your spam folder, or contact the business directly.',
    ],
  });
}
