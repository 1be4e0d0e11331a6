import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the fake does with one POST /email. */
export type Behaviour =
  | 'accept'
  /** 500 (Postmark's "internal server error"). */
  | 'error500'
  | 'error503'
  /** 429 rate limited. */
  | 'rateLimited'
  /** 422 with ErrorCode 406: the postmark client raises InactiveRecipientsError. */
  | 'inactive'
  /** 422 with ErrorCode 300: invalid email request. */
  | 'invalid'
  /** Accepts the message (it shows in the search) and cuts the connection without answering. */
  | 'acceptThenDrop'
  /** Accepts the message and holds the response until `release()` (a send in flight). */
  | 'acceptThenHold'
  /** Holds the request without accepting it until `release()`, then answers 500. */
  | 'hold';

export interface AcceptedMessage {
  MessageID: string;
  From: string;
  To: string;
  Subject: string;
  TextBody: string;
  HtmlBody: string;
  Tag?: string;
  MessageStream?: string;
  TrackOpens?: boolean;
  TrackLinks?: string;
  Metadata?: Record<string, string>;
  ReceivedAt: string;
}

export interface EmailRequest {
  to: string;
  behaviour: Behaviour;
  status: number | 'dropped' | 'held';
  emailId?: string;
  /** Date.now() when it arrived. */
  at: number;
}

export interface FakePostmark {
  url: string;
  token: string;
  /** Every message Postmark "accepted" (what a recipient would get), in order. */
  accepted: AcceptedMessage[];
  /** Every POST /email, whatever the answer. */
  requests: EmailRequest[];
  /** Every GET /messages/outbound search. */
  searches: Array<Record<string, string>>;
  /** The next POSTs /email to `to` get these behaviours, in order; then 'accept'. */
  script(to: string, ...behaviours: Behaviour[]): void;
  /**
   * Postmark's own suppression list (server-wide, stream `outbound`): a send to a listed address
   * answers 422/406 (unless scripted otherwise). `POST /message-streams/outbound/suppressions/delete`
   * removes HardBounce and ManualSuppression entries and refuses SpamComplaint ones, as Postmark does.
   */
  suppress(address: string, reason: 'HardBounce' | 'SpamComplaint' | 'ManualSuppression'): void;
  suppressed: Map<string, string>;
  /** Every suppressions/delete request: the addresses asked for, in order. */
  reactivations: string[];
  /** The next suppressions/delete requests answer 503 (Postmark unavailable). */
  failReactivations(count: number): void;
  /** Pretend Postmark already has a message (accepted by an attempt that died). */
  seedAccepted(message: Partial<AcceptedMessage> & { To: string; Metadata: Record<string, string> }): AcceptedMessage;
  /** Answers the requests held by acceptThenHold (200) and hold (500). */
  release(): void;
  acceptedFor(emailId: string): AcceptedMessage[];
  /** Resolves when `predicate` holds (checked at every request and every 100 ms). */
  waitFor(what: string, predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const METADATA_KEY = 'ledgerline_email_id';

/**
 * A local stand-in for Postmark's API, enough for the official `postmark` client pointed at it
 * with `{ useHttps: false, requestHost }`: POST /email (scripted answers per recipient) and the
 * outbound message search, GET /messages/outbound with `metadata_<key>` filters.
 */
export async function startFakePostmark(): Promise<FakePostmark> {
  const token = `fake-${randomBytes(12).toString('hex')}`;
  const accepted: AcceptedMessage[] = [];
  const requests: EmailRequest[] = [];
  const searches: Array<Record<string, string>> = [];
  const scripts = new Map<string, Behaviour[]>();
  const suppressed = new Map<string, string>();
  const reactivations: string[] = [];
  let failingReactivations = 0;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const events = new EventEmitter();
  events.setMaxListeners(100);

  const json = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const accept = (message: Omit<AcceptedMessage, 'MessageID' | 'ReceivedAt'>): AcceptedMessage => {
    const stored = { ...message, MessageID: randomUUID(), ReceivedAt: new Date().toISOString() };
    accepted.push(stored);
    return stored;
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://fake');
      if (request.headers['x-postmark-server-token'] !== token) {
        json(response, 401, { ErrorCode: 10, Message: 'Request does not contain a valid Server token.' });
        return;
      }
      if (request.method === 'GET' && url.pathname === '/messages/outbound') {
        const query = Object.fromEntries(url.searchParams.entries());
        searches.push(query);
        const filters = Object.entries(query).filter(([key]) => key.startsWith('metadata_'));
        const found = accepted.filter(
          (message) =>
            (!query.recipient || message.To.toLowerCase() === query.recipient.toLowerCase()) &&
            filters.every(([key, value]) => message.Metadata?.[key.slice('metadata_'.length)] === value),
        );
        json(response, 200, {
          TotalCount: found.length,
          Messages: found.map((message) => ({ MessageID: message.MessageID, To: [{ Email: message.To, Name: '' }], Metadata: message.Metadata ?? {}, Status: 'Sent', Subject: message.Subject, Tag: message.Tag, ReceivedAt: message.ReceivedAt })),
        });
        events.emit('change');
        return;
      }
      const deletion = /^\/message-streams\/([^/]+)\/suppressions\/delete$/.exec(url.pathname);
      if (request.method === 'POST' && deletion) {
        if (failingReactivations > 0) {
          failingReactivations -= 1;
          json(response, 503, { ErrorCode: 0, Message: 'Service unavailable' });
          return;
        }
        const entries = (JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Suppressions?: Array<{ EmailAddress?: string }> }).Suppressions ?? [];
        json(response, 200, {
          Suppressions: entries.map(({ EmailAddress = '' }) => {
            const address = EmailAddress.toLowerCase();
            reactivations.push(address);
            if (deletion[1] !== 'outbound') return { EmailAddress, Status: 'Failed', Message: 'Message stream not found.' };
            if (suppressed.get(address) === 'SpamComplaint') return { EmailAddress, Status: 'Failed', Message: 'You do not have the required authority to change this suppression.' };
            suppressed.delete(address);
            return { EmailAddress, Status: 'Deleted', Message: null };
          }),
        });
        events.emit('change');
        return;
      }
      if (request.method !== 'POST' || url.pathname !== '/email') {
        json(response, 404, { ErrorCode: 404, Message: 'Not found' });
        return;
      }
      let body: Omit<AcceptedMessage, 'MessageID' | 'ReceivedAt'>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        json(response, 400, { ErrorCode: 402, Message: 'Received invalid JSON input.' });
        return;
      }
      const to = String(body.To ?? '').toLowerCase();
      const queue = scripts.get(to) ?? [];
      const behaviour = queue.shift() ?? (suppressed.has(to) ? 'inactive' : 'accept');
      const record: EmailRequest = { to, behaviour, status: 200, emailId: body.Metadata?.[METADATA_KEY], at: Date.now() };
      requests.push(record);
      switch (behaviour) {
        case 'accept': {
          const message = accept(body);
          json(response, 200, { To: body.To, SubmittedAt: message.ReceivedAt, MessageID: message.MessageID, ErrorCode: 0, Message: 'OK' });
          break;
        }
        case 'error500':
          record.status = 500;
          json(response, 500, { ErrorCode: 0, Message: 'Internal server error' });
          break;
        case 'error503':
          record.status = 503;
          json(response, 503, { ErrorCode: 0, Message: 'Service unavailable' });
          break;
        case 'rateLimited':
          record.status = 429;
          json(response, 429, { ErrorCode: 0, Message: 'Rate limit exceeded' });
          break;
        case 'inactive':
          record.status = 422;
          json(response, 422, { ErrorCode: 406, Message: `You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: ${to}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.` });
          break;
        case 'invalid':
          record.status = 422;
          json(response, 422, { ErrorCode: 300, Message: 'Invalid email request' });
          break;
        case 'acceptThenDrop':
          accept(body);
          record.status = 'dropped';
          request.socket.destroy();
          break;
        case 'acceptThenHold': {
          const message = accept(body);
          record.status = 'held';
          held.push(() => json(response, 200, { To: body.To, SubmittedAt: message.ReceivedAt, MessageID: message.MessageID, ErrorCode: 0, Message: 'OK' }));
          break;
        }
        case 'hold':
          record.status = 'held';
          held.push(() => json(response, 500, { ErrorCode: 0, Message: 'Internal server error' }));
          break;
      }
      events.emit('change');
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const release = (): void => {
    for (const answer of held.splice(0)) {
      try {
        answer();
      } catch {
        // the client went away meanwhile
      }
    }
  };
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    accepted,
    requests,
    searches,
    script(to, ...behaviours) {
      const key = to.toLowerCase();
      scripts.set(key, [...(scripts.get(key) ?? []), ...behaviours]);
    },
    suppress(address, reason) {
      suppressed.set(address.toLowerCase(), reason);
    },
    suppressed,
    reactivations,
    failReactivations(count) {
      failingReactivations = count;
    },
    seedAccepted(message) {
      return accept({ From: 'seed@example.test', Subject: 'seeded', TextBody: '', HtmlBody: '', ...message });
    },
    release,
    acceptedFor(emailId) {
      return accepted.filter((message) => message.Metadata?.[METADATA_KEY] === emailId);
    },
    async waitFor(what, predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`fake Postmark: timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 100);
          function done(): void {
            clearTimeout(timer);
            events.off('change', done);
            resolve();
          }
          events.once('change', done);
        });
      }
    },
    async close() {
      release();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
