import { createHash } from 'node:crypto';

/**
 * The one stylesheet of the public pages, inlined in a `<style>` element and allowed by its
 * SHA-256 hash in the CSP (`style-src 'sha256-…'`): no file to serve, no `'unsafe-inline'`, and
 * nothing else can style the page. Kept in a module (not a .css file) so the build needs no asset
 * step. Mobile-first: one column, full-width 48 px tap targets, a visible focus ring, system
 * fonts; wider screens get a centred card. Colours meet WCAG AA contrast on white.
 */
export const PAGE_CSS = `
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#f3f4f6;color:#111827;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{display:block;max-width:40rem;margin:0 auto;padding:1rem;background:#fff;min-height:100vh}
@media (min-width:42rem){main{margin:2rem auto;min-height:0;padding:2rem;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}}
h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 .5rem}
h2{font-size:1.125rem;margin:1.75rem 0 .5rem}
p{margin:.5rem 0}
.business{margin:0;font-weight:600;color:#374151;overflow-wrap:anywhere}
.status{display:inline-block;margin:0;padding:.125rem .625rem;border-radius:999px;border:1px solid currentColor;font-size:.875rem;font-weight:600}
.status-open,.status-sent{color:#1e40af}
.status-partially_paid{color:#92400e}
.status-overdue,.status-void,.status-declined,.status-expired{color:#b91c1c}
.status-paid,.status-accepted,.status-converted{color:#166534}
.facts{display:grid;grid-template-columns:1fr 1fr;gap:.75rem 1rem;margin:1rem 0}
.facts div{min-width:0}
.facts dt{font-size:.875rem;color:#4b5563}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.facts .due dd{font-size:1.5rem}
.visually-hidden{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{padding:.5rem .25rem;border-bottom:1px solid #e5e7eb;vertical-align:top;text-align:left}
thead th{font-size:.875rem;color:#4b5563;font-weight:600}
tbody th{font-weight:400;overflow-wrap:anywhere}
.num{text-align:right;white-space:nowrap}
.detail{display:block;font-size:.875rem;color:#4b5563}
.detail span{white-space:nowrap}
.totals th{font-weight:400}
.totals .grand th,.totals .grand td{font-weight:700;border-top:2px solid #111827}
.actions{display:grid;gap:.75rem;margin:1rem 0}
.actions form{margin:0}
.button{display:flex;align-items:center;justify-content:center;width:100%;min-height:3rem;padding:.75rem 1rem;border-radius:.5rem;border:2px solid #1d4ed8;font:inherit;font-weight:600;text-decoration:none;cursor:pointer;text-align:center}
.primary{background:#1d4ed8;color:#fff}
.primary:hover{background:#1e40af}
.secondary{background:#fff;color:#1d4ed8}
.secondary:hover{background:#eff6ff}
.danger{background:#fff;color:#b91c1c;border-color:#b91c1c}
a{color:#1d4ed8}
a:focus-visible,button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.notice{margin:1rem 0;padding:1rem;border-radius:.5rem;border:1px solid #d1d5db;background:#f9fafb}
.notice h2{margin-top:0}
.notice-ok{border-color:#86efac;background:#f0fdf4}
.notice-warn{border-color:#fca5a5;background:#fef2f2}
.prose{white-space:pre-line;overflow-wrap:anywhere}
footer{margin-top:2rem;font-size:.875rem;color:#4b5563}
`.trim();

/** The CSP source that allows exactly PAGE_CSS. */
export const PAGE_CSS_HASH = `'sha256-${createHash('sha256').update(PAGE_CSS, 'utf8').digest('base64')}'`;
