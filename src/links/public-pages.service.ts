import { Inject, Injectable } from '@nestjs/common';
import type { RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CustomersService } from '../customers/customers.service.js';
import { EstimatesService } from '../invoices/estimates.service.js';
import { renderInvoicePdf } from '../invoices/invoice-pdf.js';
import { CreditNotesService } from '../invoices/credit-notes.service.js';
import { InvoicesService } from '../invoices/invoices.service.js';
import { linkPath, type LinkKind } from './link-signing.js';
import { paymentPath } from './page-render.js';
import { LinksService, visitorMeta, type LinkCheck, type LinkTarget } from './links.service.js';
import {
  renderEstimatePage,
  renderExpiredLinkPage,
  renderFreshLinkSentPage,
  renderInvalidLinkPage,
  renderInvoicePage,
  renderMessagePage,
} from './page-render.js';
import { publicEstimate, publicInvoice, type DocumentParties, type PublicEstimate, type PublicInvoice } from './public-views.js';

export type PageFormat = 'html' | 'json';

/** What a public page handler answers; the controller turns it into a response with the page headers. */
export type PageResult =
  | { type: 'html'; status: number; html: string }
  | { type: 'json'; status: number; body: unknown }
  | { type: 'pdf'; filename: string; bytes: Uint8Array }
  | { type: 'redirect'; location: string; status?: 303 | 307 };

export const PAGE_ACTIONS = ['accept', 'decline', 'fresh_link', 'pay_card', 'pay_paypal'] as const;
type PageAction = (typeof PAGE_ACTIONS)[number];

const ACTIONS_OF: Record<LinkKind, readonly PageAction[]> = {
  pay: ['fresh_link', 'pay_card', 'pay_paypal'],
  estimate: ['accept', 'decline', 'fresh_link'],
};

// Problems a person can act on are shown as a page in HTML mode; anything else (429, 5xx) stays problem+json.
const SHOWN_AS_PAGE = new Set([400, 404, 409, 422, 503]);

function invalidLink(): AppError {
  return AppError.unauthorized('link_invalid', 'This link is not valid.');
}

function expiredLink(): AppError {
  return AppError.unauthorized('link_expired', 'This link has expired. POST {"action":"fresh_link"} to it to have a fresh one emailed to the address on file.');
}

/**
 * The customer's pages behind signed links: the pay page, its PDF, the estimate page and
 * their POST actions (accept, decline, fresh link, pay). Each request first passes
 * `LinksService.check` (signature before any database read); its outcome picks the page:
 * ok → the document; expired → 401 with the fresh-link offer; anything else → 401 invalid.
 */
@Injectable()
export class PublicPagesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly links: LinksService,
    private readonly invoices: InvoicesService,
    private readonly estimates: EstimatesService,
    private readonly customers: CustomersService,
    private readonly creditNotes: CreditNotesService,
  ) {}

  /** GET /pay/:id and /estimate/:id, as HTML or JSON. `record` is false for HEAD (no open is counted). */
  async open(kind: LinkKind, id: unknown, query: unknown, format: PageFormat, meta: RequestMeta, record = true): Promise<PageResult> {
    const check = await this.links.check(kind, id, query);
    if (check.outcome !== 'ok') return this.refusal(check, kind, format);
    const { target } = check;
    const view = await this.view(target);
    if (record) await this.recordOpen(target, meta);
    return this.present(target, view, format, 200);
  }

  /** GET /pay/:id/pdf: the invoice PDF behind the same signature as the page. */
  async pdf(id: unknown, query: unknown, format: PageFormat, meta: RequestMeta, record = true): Promise<PageResult> {
    const check = await this.links.check('pay', id, query);
    if (check.outcome !== 'ok') return this.refusal(check, 'pay', format);
    const { target } = check;
    const invoice = await this.invoices.view(target.businessId, target.documentId);
    const customer = await this.customers.partyFor(target.businessId, invoice.customerId);
    if (!customer) return this.refusal({ outcome: 'invalid' }, 'pay', format);
    // The customer's contact details are not needed on a document fetched through a link.
    const parties = { business: target.business, customer: { ...customer, email: null, phone: null } };
    const bytes = await renderInvoicePdf(invoice, parties, { creditNotes: await this.creditNotes.summaries(target.businessId, target.documentId) });
    if (record) await this.links.recordPdfDownload(target, meta);
    return { type: 'pdf', filename: `${(invoice.number ?? 'invoice').replace(/[^A-Za-z0-9._-]+/g, '_')}.pdf`, bytes };
  }

  /** POST /pay/:id and /estimate/:id: one action field (a form or JSON). */
  async act(kind: LinkKind, id: unknown, query: unknown, body: unknown, format: PageFormat, meta: RequestMeta): Promise<PageResult> {
    const action = (body as { action?: unknown } | null | undefined)?.action;
    if (typeof action !== 'string' || !(ACTIONS_OF[kind] as readonly string[]).includes(action)) {
      return this.problem(AppError.validation([{ field: 'action', code: 'unknown_action', message: `action must be one of ${ACTIONS_OF[kind].join(', ')}` }]), format);
    }
    const check = await this.links.check(kind, id, query);
    // An expired link may still ask for a fresh one; nothing else.
    if (check.outcome === 'expired' && action === 'fresh_link') return this.freshLink(check.target, format, meta);
    if (check.outcome !== 'ok') return this.refusal(check, kind, format);
    const { target } = check;
    try {
      switch (action as PageAction) {
        case 'fresh_link':
          return await this.freshLink(target, format, meta);
        case 'accept':
        case 'decline': {
          const estimate = action === 'accept'
            ? await this.estimates.acceptFromLink(target.businessId, target.documentId, visitorMeta(target, meta))
            : await this.estimates.declineFromLink(target.businessId, target.documentId, visitorMeta(target, meta));
          // Post/redirect/get: reloading the page does not post again.
          if (format === 'html') return { type: 'redirect', location: this.selfPath(target) };
          return { type: 'json', status: 200, body: publicEstimate(estimate, this.parties(target)) };
        }
        case 'pay_card':
        case 'pay_paypal': {
          const configured = action === 'pay_card' ? Boolean(this.config.stripe) : Boolean(this.config.paypal);
          if (!configured) throw AppError.validation([{ field: 'action', code: 'unknown_action', message: 'this payment method is not offered' }]);
          // The buttons post to the payments module's routes; an older page posting here is sent on (307 keeps the POST).
          return { type: 'redirect', status: 307, location: paymentPath(this.selfPath(target), action as 'pay_card' | 'pay_paypal') };
        }
      }
    } catch (error) {
      if (error instanceof AppError) return this.problem(error, format);
      throw error;
    }
    return this.problem(AppError.validation([{ field: 'action', code: 'unknown_action', message: 'unknown action' }]), format);
  }

  // -------------------------------------------------------------------------------------------

  private async freshLink(target: LinkTarget, format: PageFormat, meta: RequestMeta): Promise<PageResult> {
    const number = await this.documentNumber(target);
    const label = `${target.type === 'invoice' ? 'invoice' : 'estimate'}${number ? ` ${number}` : ''}`;
    await this.links.sendFreshLink(target, meta, label);
    return format === 'json'
      ? { type: 'json', status: 202, body: { status: 'accepted', detail: 'If an email address is on file, a fresh link is on its way to it.' } }
      : { type: 'html', status: 202, html: renderFreshLinkSentPage() };
  }

  private async documentNumber(target: LinkTarget): Promise<string | null> {
    return (await this.view(target)).number;
  }

  private async view(target: LinkTarget): Promise<PublicInvoice | PublicEstimate> {
    if (target.type === 'invoice') {
      const invoice = await this.invoices.view(target.businessId, target.documentId);
      return publicInvoice(invoice, this.parties(target), {
        providers: { card: Boolean(this.config.stripe), paypal: Boolean(this.config.paypal) },
        pdfUrl: `${this.config.baseUrl}${this.pdfPath(target)}`,
      });
    }
    return publicEstimate(await this.estimates.view(target.businessId, target.documentId), this.parties(target));
  }

  private async recordOpen(target: LinkTarget, meta: RequestMeta): Promise<void> {
    await Promise.all([
      target.type === 'invoice' ? this.invoices.markViewed(target.businessId, target.documentId) : this.estimates.markViewed(target.businessId, target.documentId),
      this.links.recordOpen(target, meta),
    ]);
  }

  private present(target: LinkTarget, view: PublicInvoice | PublicEstimate, format: PageFormat, status: number): PageResult {
    if (format === 'json') return { type: 'json', status, body: view };
    const html = view.kind === 'invoice'
      ? renderInvoicePage(view, { selfPath: this.selfPath(target), pdfPath: this.pdfPath(target) })
      : renderEstimatePage(view, { selfPath: this.selfPath(target) });
    return { type: 'html', status, html };
  }

  private refusal(check: Exclude<LinkCheck, { outcome: 'ok' }>, kind: LinkKind, format: PageFormat): PageResult {
    if (check.outcome === 'expired') {
      if (format === 'json') throw expiredLink();
      return { type: 'html', status: 401, html: renderExpiredLinkPage(`${linkPath(kind, check.target.documentId)}${check.target.query}`) };
    }
    if (format === 'json') throw invalidLink();
    return { type: 'html', status: 401, html: renderInvalidLinkPage() };
  }

  private problem(error: AppError, format: PageFormat): PageResult {
    if (format === 'json' || !SHOWN_AS_PAGE.has(error.status)) throw error;
    return { type: 'html', status: error.status, html: renderMessagePage({ title: error.status === 503 ? 'Not available yet' : 'That did not work', tone: 'warn', paragraphs: [error.detail] }) };
  }

  private parties(target: LinkTarget): DocumentParties {
    return { business: target.business, customerName: target.customer.name };
  }

  private selfPath(target: LinkTarget): string {
    return `${linkPath(target.kind, target.documentId)}${target.query}`;
  }

  private pdfPath(target: LinkTarget): string {
    return `${linkPath(target.kind, target.documentId)}/pdf${target.query}`;
  }
}
