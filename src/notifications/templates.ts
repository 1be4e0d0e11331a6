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

function render(subject: string, paragraphs: string[], action?: { label: string; url: string }): RenderedEmail {
  const text = [...paragraphs, ...(action ? [`${action.label}: ${action.url}`] : [])].join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    ...paragraphs.map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`),
    action ? `<p><a href="${escapeHtml(action.url)}">${escapeHtml(action.label)}</a></p>` : '',
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
  securityAlert: (data: { name: string; event: string; detail: string }) =>
    render(`Security alert: ${data.event}`, [`Hello ${data.name},`, data.detail, 'If this was not you, change your password now; that signs out every device.']),
};

export type TemplateName = keyof typeof templates;
