#!/usr/bin/env node
// A local stand-in for Postmark's API for the email benchmarks: a plain-JS copy of
// test/fakes/fake-postmark.ts, reduced to what a benchmark needs. Enough for the official
// `postmark` client pointed at it (POSTMARK_API_BASE=http://127.0.0.1:<port>):
//   POST /email               accepts every message (200, a MessageID), checks the server token
//   GET  /messages/outbound   the outbound message search, with recipient and metadata_<key> filters
// and, for the bench only:
//   GET  /__bench/stats       { accepted, requests, distinct, duplicates } (distinct = different email ids)
//   POST /__bench/reset       forgets everything accepted so far
//
// As a process (what the scenarios do, so it runs pinned next to the load generator, not in the
// orchestrator):  node bench/lib/fake-postmark.js [--token T]   prints {"url","token","pid"} on stdout.
// In process:     const fake = await startFakePostmark(); … await fake.close();
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const METADATA_KEY = 'ledgerline_email_id';

export async function startFakePostmark({ token = `fake-${randomBytes(12).toString('hex')}`, port = 0, keepMessages = true } = {}) {
  let accepted = []; // what a search can find
  let byEmailId = new Map(); // email id -> times accepted
  let requests = 0;
  let acceptedCount = 0;

  const json = (response, status, body) => {
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  };

  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://fake');
      if (url.pathname === '/__bench/stats') {
        let duplicates = 0;
        for (const n of byEmailId.values()) if (n > 1) duplicates += n - 1;
        return json(response, 200, { accepted: acceptedCount, requests, distinct: byEmailId.size, duplicates });
      }
      if (url.pathname === '/__bench/reset' && request.method === 'POST') {
        accepted = [];
        byEmailId = new Map();
        requests = 0;
        acceptedCount = 0;
        return json(response, 200, { ok: true });
      }
      if (request.headers['x-postmark-server-token'] !== token) {
        return json(response, 401, { ErrorCode: 10, Message: 'Request does not contain a valid Server token.' });
      }
      if (request.method === 'GET' && url.pathname === '/messages/outbound') {
        const query = Object.fromEntries(url.searchParams.entries());
        const filters = Object.entries(query).filter(([key]) => key.startsWith('metadata_'));
        const found = accepted.filter(
          (m) => (!query.recipient || m.To.toLowerCase() === query.recipient.toLowerCase()) && filters.every(([key, value]) => m.Metadata?.[key.slice('metadata_'.length)] === value),
        );
        return json(response, 200, {
          TotalCount: found.length,
          Messages: found.map((m) => ({ MessageID: m.MessageID, To: [{ Email: m.To, Name: '' }], Metadata: m.Metadata ?? {}, Status: 'Sent', Subject: m.Subject, Tag: m.Tag, ReceivedAt: m.ReceivedAt })),
        });
      }
      if (request.method !== 'POST' || url.pathname !== '/email') return json(response, 404, { ErrorCode: 404, Message: 'Not found' });
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(response, 400, { ErrorCode: 402, Message: 'Received invalid JSON input.' });
      }
      requests++;
      const message = { MessageID: randomUUID(), ReceivedAt: new Date().toISOString(), To: String(body.To ?? ''), Subject: body.Subject, Tag: body.Tag, Metadata: body.Metadata };
      acceptedCount++;
      if (keepMessages) accepted.push(message);
      const emailId = body.Metadata?.[METADATA_KEY];
      if (emailId) byEmailId.set(emailId, (byEmailId.get(emailId) ?? 0) + 1);
      json(response, 200, { To: body.To, SubmittedAt: message.ReceivedAt, MessageID: message.MessageID, ErrorCode: 0, Message: 'OK' });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    token,
    stats: () => ({ accepted: acceptedCount, requests, distinct: byEmailId.size }),
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--token');
  const fake = await startFakePostmark(i > 0 ? { token: process.argv[i + 1] } : {});
  process.stdout.write(`${JSON.stringify({ url: fake.url, token: fake.token, pid: process.pid })}\n`);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fake.close().then(() => process.exit(0)));
}
