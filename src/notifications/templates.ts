/** Rendered email content. Subjects are single-line (CR and LF stripped); HTML is escaped. */
export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);
}

export function singleLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

/** Only an absolute http(s) URL becomes a link (never `javascript:` or `data:`), as one line. */
export function safeUrl(url: string): string | undefined {
  const candidate = singleLine(String(url));
  try {
    const { protocol } = new URL(candidate);
    return protocol === 'https:' || protocol === 'http:' ? candidate : undefined;
  } catch {
    return undefined;
  }
}

// Every paragraph is one line in the text part, so a value with CR/LF in it (a customer name)
// cannot start a paragraph of its own that looks like it came from the sender.
function render(subject: string, paragraphs: string[], action?: { label: string; url: string }): RenderedEmail {
  const url = action ? safeUrl(action.url) : undefined;
  const lines = paragraphs.map((paragraph) => singleLine(String(paragraph)));
  const text = [...lines, ...(action && url ? [`${singleLine(action.label)}: ${url}`] : [])].join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    ...lines.map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`),
    action && url ? `<p><a href="${escapeHtml(url)}">${escapeHtml(singleLine(action.label))}</a></p>` : '',
    '</body></html>',
  ].join('');
  return { subject: singleLine(subject), text, html };
}

export const templates = {
  invitation: (data: { businessName: string; inviterName: string; role: string; acceptUrl: string; token: string }) =>
    render(
      `${singleLine(data.inviterName)} invited you to ${singleLine(data.businessName)} on Ledgerline`,
      [
        `${data.inviterName} invited you to join ${data.businessName} as ${data.role}.`,
        `The invitation is valid for 7 days and can be used once. Your invitation code: ${data.token}`,
      ],
      { label: 'Accept the invitation', url: data.acceptUrl },
    ),
  passwordReset: (data: { name: string; resetUrl: string; token: string }) =>
    render(
      'Reset your Ledgerline password',
      [`Hello ${data.name},`, `Someone asked to reset your password. The link works once, for one hour. Your reset code: ${data.token}`, 'If it was not you, ignore this email; your password stays as it is.'],
      { label: 'Choose a new password', url: data.resetUrl },
    ),
  invoice: (data: { businessName: string; customerName: string; number: string; total: string; balanceDue: string; dueDate: string; viewUrl?: string }) =>
    render(
      `Invoice ${singleLine(data.number)} from ${singleLine(data.businessName)}`,
      [
        `Hello ${data.customerName},`,
        `${data.businessName} sent you invoice ${data.number} for ${data.total}. Balance due: ${data.balanceDue}, due on ${data.dueDate}.`,
        'Reply to this email if you have a question about it.',
      ],
      data.viewUrl ? { label: 'View and pay the invoice', url: data.viewUrl } : undefined,
    ),
  estimate: (data: { businessName: string; customerName: string; number: string; total: string; expiryDate: string; viewUrl?: string }) =>
    render(
      `Estimate ${singleLine(data.number)} from ${singleLine(data.businessName)}`,
      [
        `Hello ${data.customerName},`,
        `${data.businessName} sent you estimate ${data.number} for ${data.total}. It is valid until ${data.expiryDate}.`,
        'Reply to this email to accept it or if you have a question about it.',
      ],
      data.viewUrl ? { label: 'View and answer the estimate', url: data.viewUrl } : undefined,
    ),
  /** A new signed link, asked for from an expired link's page; sent only to the customer address on file. */
  freshLink: (data: { businessName: string; customerName: string; documentLabel: string; actionLabel: string; url: string; validUntil: string }) =>
    render(
      `Your link to ${singleLine(data.documentLabel)} from ${singleLine(data.businessName)}`,
      [
        `Hello ${data.customerName},`,
        `Here is a fresh link to ${data.documentLabel} from ${data.businessName}, as asked for on the page of an expired link. It works until ${data.validUntil} (UTC).`,
        'If you did not ask for it, you can ignore this email: the link only shows the document to whoever holds it, so do not forward it.',
      ],
      { label: data.actionLabel, url: data.url },
    ),
  /** To the customer after a payment is applied (card, PayPal or recorded by the business). */
  receipt: (data: { businessName: string; customerName: string; number: string; amount: string; method: string; receivedOn: string; balanceDue: string; credit?: string }) =>
    render(
      `Receipt for invoice ${singleLine(data.number)} from ${singleLine(data.businessName)}`,
      [
        `Hello ${data.customerName},`,
        `${data.businessName} received your payment of ${data.amount} (${data.method}) on ${data.receivedOn} for invoice ${data.number}.`,
        data.credit ? `You paid ${data.credit} more than was due: it is kept as a credit for you.` : `Balance still due: ${data.balanceDue}.`,
        'Thank you. Keep this email as your receipt.',
      ],
    ),
  /** To a business's admins when a customer disputes a card payment (a chargeback): evidence is due quickly. */
  disputeAlert: (data: { name: string; businessName: string; number: string; amount: string; reason: string; provider: string }) =>
    render(
      `A payment for invoice ${singleLine(data.number)} is disputed`,
      [
        `Hello ${data.name},`,
        `The customer disputed a payment of ${data.amount} for invoice ${data.number} of ${data.businessName} with ${data.provider} (reason: ${data.reason}).`,
        `Answer the dispute in your ${data.provider} dashboard before its deadline; the invoice is flagged as disputed in Ledgerline.`,
      ],
    ),
  securityAlert: (data: { name: string; event: string; detail: string }) =>
    render(`Security alert: ${data.event}`, [`Hello ${data.name},`, data.detail, 'If this was not you, change your password now; that signs out every device.']),
  /** A security event of a business, to each of its admins (security module); one per burst, not per occurrence. */
  securityEvent: (data: { name: string; businessName: string; title: string; summary: string; when: string }) =>
    render(`Security alert for ${singleLine(data.businessName)}: ${singleLine(data.title)}`, [
      `Hello ${data.name},`,
      `${data.summary} (${data.when} UTC)`,
      'Review it under Security → Events. If you do not recognise it, revoke sessions, check members and roles, and change your password.',
    ]),
  /**
   * A payment reminder; the wording follows the stage: before the due date (friendly), on it,
   * after it, and from 14 days after it (final). `daysFromDue` is the stage (-3, 0, 7, 14, …).
   */
  reminder: (data: { businessName: string; customerName: string; number: string; balanceDue: string; dueDate: string; daysFromDue: number; payUrl?: string }) => {
    const days = Math.abs(Math.trunc(Number(data.daysFromDue)) || 0);
    const unit = days === 1 ? 'day' : 'days';
    const number = singleLine(String(data.number));
    const stage = Math.trunc(Number(data.daysFromDue)) || 0;
    const [subject, lead] =
      stage < 0
        ? [`Reminder: invoice ${number} is due in ${days} ${unit}`, `A friendly reminder that invoice ${data.number} from ${data.businessName} for ${data.balanceDue} is due on ${data.dueDate}.`]
        : stage === 0
          ? [`Invoice ${number} is due today`, `Invoice ${data.number} from ${data.businessName} for ${data.balanceDue} is due today, ${data.dueDate}.`]
          : stage < 14
            ? [`Invoice ${number} is ${days} ${unit} overdue`, `Invoice ${data.number} from ${data.businessName} was due on ${data.dueDate}; ${data.balanceDue} is still open.`]
            : [`Final reminder: invoice ${number} is ${days} days overdue`, `Invoice ${data.number} from ${data.businessName} is ${days} days overdue; ${data.balanceDue} is still open. Please pay it now or reply to this email if something is wrong with it.`];
    return render(
      `${subject} (${singleLine(String(data.businessName))})`,
      [`Hello ${data.customerName},`, lead, 'If you have already paid, thank you, and please ignore this reminder.'],
      data.payUrl ? { label: 'View and pay the invoice', url: data.payUrl } : undefined,
    );
  },
  creditNote: (data: { businessName: string; customerName: string; number: string; invoiceNumber: string; total: string; reason: string }) =>
    render(
      `Credit note ${singleLine(data.number)} from ${singleLine(data.businessName)}`,
      [
        `Hello ${data.customerName},`,
        `${data.businessName} issued credit note ${data.number} for ${data.total} against invoice ${data.invoiceNumber}.`,
        `Reason: ${data.reason}`,
        'Reply to this email if you have a question about it.',
      ],
    ),
  /** Sent after a payment, only when the business turned review requests on and gave an https review URL. */
  reviewRequest: (data: { businessName: string; customerName: string; reviewUrl: string }) =>
    render(
      `How was your experience with ${singleLine(data.businessName)}?`,
      [`Hello ${data.customerName},`, `Thank you for your payment to ${data.businessName}. Would you take a minute to review them? It helps them a lot.`],
      { label: 'Leave a review', url: data.reviewUrl },
    ),
  /** To a business's admins when an email to a customer failed for good (attempts spent, or refused). */
  deliveryFailed: (data: { name: string; businessName: string; recipient: string; subject: string; reason: string }) =>
    render(
      `An email from ${singleLine(data.businessName)} could not be delivered`,
      [
        `Hello ${data.name},`,
        `The email "${data.subject}" to ${data.recipient} could not be delivered: ${data.reason}`,
        'Check the address with your customer; you can see every email and its delivery state under Emails in Ledgerline.',
      ],
    ),
};

export type TemplateName = keyof typeof templates;
