import { statSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { dayNumber, signLink } from '../../src/links/link-signing.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { fromFreshIps, readyAdmin, waitFor, type TestAccount } from '../harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from '../harness/invoicing.js';
import { artifactPath, freePort, launchChromium, type BrowserSession } from '../support/browser.js';

/**
 * The public pages in a real browser (Debian's Chromium through playwright-core), against the
 * running app on a real port, with JavaScript switched off: the pages must work without it.
 * A screenshot of the pay page is kept in test/artifacts/ for a person to look at.
 */
// The callbacks given to evaluate() run in the page, where these exist; this project's lib has no DOM.
interface PageElement { tagName: string; getBoundingClientRect(): { right: number } }
declare const document: { documentElement: { scrollWidth: number; clientWidth: number }; activeElement: PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> };
declare function getComputedStyle(element: unknown): { maxWidth: string; minHeight: string; outlineStyle: string };

const KEY = { id: 'kb', secret: 'browser-link-key-0123456789abcdef0123456789ab' };

describe('public pages in Chromium', () => {
  let raw: TestApp;
  let t: TestApp;
  let browser: BrowserSession;
  let origin: string;
  let admin: TestAccount;
  let customerId: string;
  let invoiceId: string;
  let payUrl: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    raw = await startTestApp({ env: { APP_BASE_URL: origin, PORT: String(port), LINK_SIGNING_KEYS: `${KEY.id}:${KEY.secret}` } });
    await raw.app.listen(port, '127.0.0.1');
    t = fromFreshIps(raw);
    browser = await launchChromium({ javaScriptEnabled: false });
    browser.context.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });

    admin = await readyAdmin(t, { businessName: 'Ace Plumbing & Heating' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: 'carla@example.test' });
    await t.inject({ method: 'PATCH', url: '/v1/settings', headers: admin.auth, payload: { address: '1 High Street\nLeeds LS1 1AA', paymentInstructions: 'Bank transfer: IBAN GB00 TEST 0000 0000 0000 00' } });
    const invoice = await createInvoice(t, admin, invoiceBody(customerId, { notes: 'Thank you for choosing us!' }));
    invoiceId = invoice.id;
    expect((await post(t, admin, `/v1/invoices/${invoiceId}/finalize`)).statusCode).toBe(200);
    payUrl = (await post(t, admin, `/v1/invoices/${invoiceId}/link`)).json().url;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await raw?.close();
  });

  afterEach(() => {
    // Every page is styled by the hashed stylesheet alone: the browser never refused anything.
    expect(cspViolations).toEqual([]);
  });

  async function amountIn(page: Page, rowName: string): Promise<string> {
    return (await page.locator('table.totals tr', { has: page.locator('th', { hasText: new RegExp(`^${rowName}$`) }) }).locator('td').innerText()).trim();
  }

  it('shows the totals a person sees, styled, and keeps a screenshot', async () => {
    const page = await browser.newPage();
    const response = await page.goto(payUrl);
    expect(response?.status()).toBe(200);
    await expect(page.title()).resolves.toMatch(/^Invoice INV-\d{4}-\d{4} from Ace Plumbing & Heating$/);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toMatch(/^Invoice INV-\d{4}-\d{4}$/);
    await expect(page.locator('.business').innerText()).resolves.toBe('Ace Plumbing & Heating');
    expect(await amountIn(page, 'Subtotal')).toBe('79.98 EUR');
    expect(await amountIn(page, 'Discount')).toBe('−5.00 EUR');
    expect(await amountIn(page, 'Tax 8.25%')).toBe('2.06 EUR');
    expect(await amountIn(page, 'Tax 20%')).toBe('10.00 EUR');
    expect(await amountIn(page, 'Total')).toBe('87.04 EUR');
    expect(await amountIn(page, 'Amount paid')).toBe('0.00 EUR');
    expect(await amountIn(page, 'Balance due')).toBe('87.04 EUR');
    await expect(page.locator('.facts .due dd').innerText()).resolves.toBe('87.04 EUR');
    await expect(page.getByRole('row', { name: /Boiler service/ }).locator('td').innerText()).resolves.toBe('59.98 EUR');
    await expect(page.getByRole('link', { name: 'Download PDF' }).isVisible()).resolves.toBe(true);
    // The stylesheet applied (its CSP hash matched): the centred card and the button style.
    await expect(page.locator('main').evaluate((main) => getComputedStyle(main).maxWidth)).resolves.toBe('640px');
    await expect(page.getByRole('link', { name: 'Download PDF' }).evaluate((link) => getComputedStyle(link).minHeight)).resolves.toBe('48px');

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download PDF' }).click();
    expect((await download).suggestedFilename()).toMatch(/^INV-\d{4}-\d{4}\.pdf$/);

    const file = artifactPath('pay-page.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(10_000);
    await page.close();
  });

  it('sends the page headers: no-store, no-referrer, noindex, a strict CSP, no framing', async () => {
    const page = await browser.newPage();
    const response = await page.goto(payUrl);
    const headers = response!.headers();
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['x-robots-tag']).toContain('noindex');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['content-security-policy']).toMatch(/^default-src 'none';/);
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).not.toMatch(/unsafe-inline|script-src/);
    // The document's own policy agrees: the token in the URL is never sent on as a Referer.
    await expect(page.locator('meta[name="referrer"]').getAttribute('content')).resolves.toBe('no-referrer');
    await page.close();
  });

  it('shows the invalid-link page with status 401 for a tampered link', async () => {
    const url = new URL(payUrl);
    const signature = url.searchParams.get('t')!;
    url.searchParams.set('t', `${signature.slice(0, -1)}${signature.endsWith('x') ? 'y' : 'x'}`);
    const page = await browser.newPage();
    const response = await page.goto(url.toString());
    expect(response?.status()).toBe(401);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('This link is not valid');
    await expect(page.locator('body').innerText()).resolves.not.toContain('Ace Plumbing');
    await page.close();
  });

  it('offers a fresh link on an expired link, and the emailed link opens the invoice', async () => {
    const day = dayNumber() - 61;
    const claims = { kind: 'pay' as const, documentId: invoiceId, linkEpoch: 0, day };
    const expired = `${origin}/pay/${invoiceId}?t=${signLink(claims, KEY.secret)}&d=${day}&e=0`;
    const page = await browser.newPage();
    const response = await page.goto(expired);
    expect(response?.status()).toBe(401);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('This link has expired');
    await page.screenshot({ path: artifactPath('expired-link.png'), fullPage: true });

    // A real form post from the page (the browser's own Origin and Sec-Fetch-Site headers).
    const [sent] = await Promise.all([page.waitForResponse((answer) => answer.request().method() === 'POST'), page.getByRole('button', { name: 'Email me a fresh link' }).click()]);
    expect(sent.status()).toBe(202);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Check your email');

    const email = await waitFor(async () => {
      const { rows } = await raw.db.query<{ to_address: string; text_body: string }>(`SELECT to_address, text_body FROM emails WHERE template = 'freshLink' ORDER BY created_at DESC LIMIT 1`);
      return rows[0];
    }, { what: 'the fresh-link email' });
    expect(email.to_address).toBe('carla@example.test');
    const fresh = /View and pay the invoice: (\S+)/.exec(email.text_body)![1];
    expect(fresh.startsWith(`${origin}/pay/${invoiceId}?`)).toBe(true);
    const reopened = await page.goto(fresh);
    expect(reopened?.status()).toBe(200);
    expect(await amountIn(page, 'Balance due')).toBe('87.04 EUR');
    await page.close();
  });

  it('accepting an estimate changes its status in the API', async () => {
    const created = await post(t, admin, '/v1/estimates', { customerId, currency: 'EUR', lines: [{ description: 'New combi boiler, fitted', quantity: 1, unitPrice: 185_000, taxRateBps: 2000 }], terms: 'Half up front.' });
    const estimateId = created.json().id;
    expect((await post(t, admin, `/v1/estimates/${estimateId}/send`)).statusCode).toBe(200);
    const estimateUrl = (await post(t, admin, `/v1/estimates/${estimateId}/link`)).json().url;

    const page = await browser.newPage();
    expect((await page.goto(estimateUrl))?.status()).toBe(200);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toMatch(/^Estimate EST-\d{4}-\d{4}$/);
    expect(await amountIn(page, 'Total')).toBe('2220.00 EUR');
    await page.screenshot({ path: artifactPath('estimate-page.png'), fullPage: true });
    await Promise.all([page.waitForURL(estimateUrl), page.getByRole('button', { name: 'Accept estimate' }).click()]);
    await expect(page.getByRole('heading', { name: 'Accepted' }).isVisible()).resolves.toBe(true);
    await expect(page.getByRole('button', { name: 'Decline' }).count()).resolves.toBe(0);
    await page.screenshot({ path: artifactPath('estimate-accepted.png'), fullPage: true });

    const api = (await get(t, admin, `/v1/estimates/${estimateId}`)).json();
    expect(api).toMatchObject({ status: 'accepted', acceptedAt: expect.any(String) });
    const { rows } = await raw.db.query('SELECT accepted_user_agent FROM estimates WHERE id = $1', [estimateId]);
    expect(rows[0].accepted_user_agent).toMatch(/Chrome/);
    await page.close();
  });

  it('works at a 375-pixel-wide viewport: nothing overflows, buttons are large tap targets', async () => {
    const page = await browser.newPage({ width: 375, height: 812 });
    expect((await page.goto(payUrl))?.status()).toBe(200);
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      widest: Math.max(...[...document.querySelectorAll('main *')].map((element) => element.getBoundingClientRect().right)),
    }));
    expect(layout.clientWidth).toBe(375);
    expect(layout.scrollWidth).toBeLessThanOrEqual(375);
    expect(layout.widest).toBeLessThanOrEqual(375);
    const button = await page.getByRole('link', { name: 'Download PDF' }).boundingBox();
    expect(button!.height).toBeGreaterThanOrEqual(44);
    expect(button!.width).toBeGreaterThan(300);
    expect(await amountIn(page, 'Balance due')).toBe('87.04 EUR');
    await page.screenshot({ path: artifactPath('pay-page-375.png'), fullPage: true });

    // The keyboard focus ring is visible.
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const focused = document.activeElement;
      return { tag: focused?.tagName, outline: getComputedStyle(focused).outlineStyle };
    });
    expect(outline).toEqual({ tag: 'A', outline: 'solid' });
    await page.close();
  });
});
