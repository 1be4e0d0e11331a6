import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';

export interface SinkRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** The decoded body (a Sentry envelope: newline-separated JSON). */
  body: string;
}

export interface SentrySink {
  /** A DSN that sends every event to this sink. */
  dsn: string;
  port: number;
  requests: SinkRequest[];
  /** Every body received so far, joined, for "this string never appears" checks. */
  raw(): string;
  /** The parsed items of every envelope (headers and payloads), in order. */
  items(): Array<Record<string, unknown>>;
  /** The `event` payloads only. */
  events(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * A local stand-in for Sentry's ingest: collects every request body (decompressing
 * gzip/deflate/br) and answers 200 `{}`. Use `http://public@127.0.0.1:<port>/1` as the DSN.
 */
export async function startSentrySink(): Promise<SentrySink> {
  const requests: SinkRequest[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: decode(Buffer.concat(chunks), request.headers['content-encoding']) });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const items = (): Array<Record<string, unknown>> =>
    requests.flatMap((request) =>
      request.body
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => parse(line) ?? { unparsed: line }),
    );

  return {
    dsn: `http://public@127.0.0.1:${port}/1`,
    port,
    requests,
    raw: () => requests.map((request) => request.body).join('\n'),
    items,
    events: () => {
      // Envelope: header line, then (item header, payload) pairs.
      const out: Array<Record<string, unknown>> = [];
      for (const request of requests) {
        const lines = request.body.split('\n').filter((line) => line.trim() !== '');
        for (let i = 1; i + 1 < lines.length; i += 2) {
          const header = parse(lines[i]);
          const payload = parse(lines[i + 1]);
          if (header?.type === 'event' && payload) out.push(payload);
        }
      }
      return out;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function decode(body: Buffer, encoding: string | string[] | undefined): string {
  switch (String(encoding ?? '').toLowerCase()) {
    case 'gzip':
      return gunzipSync(body).toString('utf8');
    case 'deflate':
      return inflateSync(body).toString('utf8');
    case 'br':
      return brotliDecompressSync(body).toString('utf8');
    default:
      return body.toString('utf8');
  }
}
