import { escapeHtml, safeUrl, singleLine, templates, type TemplateName } from './templates.js';

const HOSTILE = '<script>alert("x")</script>\r\nBcc: victim@example.test\r\n\r\n=HYPERLINK("http://evil.test","Pay here") & \'quoted\'';

/** Data for any template: every field is the hostile string (URL fields a safe https URL). */
function hostileData(urls: 'safe' | 'hostile'): Record<string, unknown> {
  return new Proxy(
    {},
    {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        if (/url$/i.test(key)) return urls === 'safe' ? 'https://ledgerline.test/pay/1?t=a&d=1' : 'javascript:alert(document.cookie)';
        if (key === 'daysFromDue') return 7;
        return HOSTILE;
      },
      has: () => true,
    },
  );
}

const names = Object.keys(templates) as TemplateName[];
const render = (name: TemplateName, data: Record<string, unknown>) => (templates[name] as (input: never) => { subject: string; text: string; html: string })(data as never);

describe('email templates', () => {
  it('covers every email the product sends', () => {
    for (const name of ['invitation', 'passwordReset', 'invoice', 'estimate', 'receipt', 'reminder', 'creditNote', 'freshLink', 'securityAlert', 'reviewRequest', 'deliveryFailed']) {
      expect(names).toContain(name);
    }
  });

  describe.each(names.map((name) => [name]))('%s', (name) => {
    const email = render(name, hostileData('safe'));

    it('renders a subject, a text part and an HTML part', () => {
      expect(email.subject.length).toBeGreaterThan(0);
      expect(email.text.length).toBeGreaterThan(0);
      expect(email.html).toMatch(/^<!doctype html><html><body[^>]*>.*<\/body><\/html>$/s);
    });

    it('keeps the subject on one line (no header injection)', () => {
      expect(email.subject).not.toMatch(/[\r\n]/);
    });

    it('escapes HTML: no markup from the data survives', () => {
      expect(email.html).not.toContain('<script');
      expect(email.html).not.toContain('"x"');
      expect(email.html).not.toContain("'quoted'");
      expect(email.html).toContain('&lt;script&gt;');
      // Formula characters are plain text: quoted and escaped, never an attribute or markup.
      expect(email.html).toContain('=HYPERLINK(&quot;http://evil.test&quot;,&quot;Pay here&quot;) &amp; &#39;quoted&#39;');
    });

    it('keeps every data value on its paragraph’s line in the text part (CR/LF cannot forge a paragraph or a header)', () => {
      expect(email.text).not.toMatch(/\r/);
      for (const paragraph of email.text.split('\n\n')) expect(paragraph).not.toContain('\n');
      expect(email.text).not.toMatch(/^Bcc:/m);
    });

    it('never links a non-http(s) URL', () => {
      const hostile = render(name, hostileData('hostile'));
      expect(hostile.html).not.toContain('javascript:');
      expect(hostile.text).not.toContain('javascript:');
    });
  });

  it('links the signed pay URL of an invoice and a reminder, escaped', () => {
    const url = 'https://ledgerline.test/pay/5d0f?t=abc_DEF-123456789012345678&d=20400&e=0';
    for (const email of [
      templates.invoice({ businessName: 'Ace', customerName: 'Carla', number: 'INV-1', total: '10.00 EUR', balanceDue: '10.00 EUR', dueDate: '2026-11-30', viewUrl: url }),
      templates.reminder({ businessName: 'Ace', customerName: 'Carla', number: 'INV-1', balanceDue: '10.00 EUR', dueDate: '2026-11-30', daysFromDue: 0, payUrl: url }),
    ]) {
      expect(email.html).toContain(`href="${url.replace(/&/g, '&amp;')}"`);
      expect(email.text).toContain(url);
    }
  });

  it.each([
    [-3, 'Reminder: invoice INV-7 is due in 3 days (Ace)'],
    [-1, 'Reminder: invoice INV-7 is due in 1 day (Ace)'],
    [0, 'Invoice INV-7 is due today (Ace)'],
    [7, 'Invoice INV-7 is 7 days overdue (Ace)'],
    [14, 'Final reminder: invoice INV-7 is 14 days overdue (Ace)'],
    [30, 'Final reminder: invoice INV-7 is 30 days overdue (Ace)'],
  ])('words a reminder by its stage: %i → %s', (stage, subject) => {
    expect(templates.reminder({ businessName: 'Ace', customerName: 'C', number: 'INV-7', balanceDue: '1', dueDate: '2026-11-30', daysFromDue: stage }).subject).toBe(subject);
  });

  it.each([
    ['a new login from a new device', 'We saw a sign-in from a device we had not seen.'],
    ['a sign-in was ended', 'An old sign-in token of yours was used again.'],
    ['too many failed sign-ins', 'There were 10 failed attempts.'],
    ['two-factor authentication was turned off', 'Two-factor authentication was turned off.'],
  ])('renders the security alert for %s', (event, detail) => {
    const email = templates.securityAlert({ name: 'Ada', event, detail });
    expect(email.subject).toBe(`Security alert: ${event}`);
    expect(email.text).toContain(detail);
  });

  it('has helpers that do what they say', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    expect(singleLine(' a\r\nb\nc\r ')).toBe('a b c');
    expect(safeUrl('https://x.test/a?b=1')).toBe('https://x.test/a?b=1');
    expect(safeUrl('http://localhost:3000/pay')).toBe('http://localhost:3000/pay');
    for (const bad of ['javascript:alert(1)', 'data:text/html,x', 'vbscript:x', '//evil.test', 'not a url', '']) expect(safeUrl(bad)).toBeUndefined();
  });
});
