import { ServerClient } from 'postmark';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';

/** The Postmark metadata key that names our outbox row: unique per message, searched for after a crash. */
export const EMAIL_ID_METADATA_KEY = 'ledgerline_email_id';
/** A request that has not answered in this time is abandoned (and treated as "maybe sent"). */
export const POSTMARK_TIMEOUT_SECONDS = 30;

export interface OutboundEmail {
  id: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The template name, as Postmark's tag (for its statistics). */
  tag: string;
}

/**
 * Why a send did not succeed:
 * - `permanent`: Postmark refused the message and will refuse it again (inactive recipient,
 *   invalid address): fail at once;
 * - `transient`: Postmark answered that it did not take the message (5xx, 429, 401): retry;
 * - `ambiguous`: no answer (timeout, connection lost): Postmark may have taken it, so the next
 *   attempt searches for it by its metadata before sending again.
 */
export type FailureKind = 'permanent' | 'transient' | 'ambiguous';

export class EmailSendError extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EmailSendError';
  }
}

export interface EmailTransport {
  readonly kind: 'postmark' | 'capture';
  /** Hands the message over; the provider's id for it (null when captured). Throws EmailSendError. */
  send(email: OutboundEmail): Promise<{ messageId: string | null }>;
  /** The message the provider accepted for this outbox row, if any. Throws EmailSendError. */
  find(emailId: string, to: string): Promise<{ messageId: string } | undefined>;
  /**
   * Lifts the provider's own suppression of an address (a member cleared ours): `reactivated`
   * (or it was not suppressed there), `refused` (the provider keeps it, e.g. a spam complaint),
   * `not_applicable` (nothing is sent anywhere). Throws EmailSendError when there is no answer.
   */
  reactivate(address: string): Promise<'reactivated' | 'refused' | 'not_applicable'>;
}

/**
 * Maps a postmark.js error to our three kinds by its HTTP status and Postmark ErrorCode (not by
 * class: the library's errors are built across module copies). The message never carries the
 * recipient address (Postmark's 406 text lists it), so it is safe to log and to store.
 */
export function classifyPostmarkError(error: unknown): EmailSendError {
  const { statusCode = 0, code = 0 } = (error ?? {}) as { statusCode?: number; code?: number };
  if (statusCode === 422) {
    if (code === 406) return new EmailSendError('permanent', 'inactive_recipient', 'Postmark marked the recipient inactive (an earlier hard bounce or spam complaint).');
    if (code === 300) return new EmailSendError('permanent', 'invalid_address', 'Postmark refused the message as invalid (usually the recipient address).');
    return new EmailSendError('permanent', `postmark_${code}`, `Postmark refused the message (error code ${code}).`);
  }
  if (statusCode === 429) return new EmailSendError('transient', 'rate_limited', 'Postmark asked us to slow down (429).');
  if (statusCode >= 500) return new EmailSendError('transient', 'provider_unavailable', `Postmark answered ${statusCode}.`);
  if (statusCode === 401) return new EmailSendError('transient', 'provider_unauthorized', 'Postmark refused the server token (401).');
  if (statusCode >= 400) return new EmailSendError('permanent', `postmark_http_${statusCode}`, `Postmark refused the request (${statusCode}).`);
  if (statusCode > 0) return new EmailSendError('transient', `postmark_http_${statusCode}`, `Postmark answered ${statusCode}.`);
  const message = (error as Error | undefined)?.message ?? '';
  return new EmailSendError('ambiguous', /timeout|aborted/i.test(message) ? 'timeout' : 'network', `No answer from Postmark (${/timeout|aborted/i.test(message) ? 'timed out' : 'connection failed'}).`);
}

/** The official client; message stream `outbound`, open and link tracking on. */
export class PostmarkTransport implements EmailTransport {
  readonly kind = 'postmark';
  private readonly client: ServerClient;

  constructor(serverToken: string, apiBase?: string) {
    const base = apiBase ? new URL(apiBase) : undefined;
    this.client = new ServerClient(
      serverToken,
      base ? { useHttps: base.protocol === 'https:', requestHost: base.host, timeout: POSTMARK_TIMEOUT_SECONDS } : { timeout: POSTMARK_TIMEOUT_SECONDS },
    );
  }

  async send(email: OutboundEmail): Promise<{ messageId: string }> {
    try {
      const response = await this.client.sendEmail({
        From: email.from,
        To: email.to,
        Subject: email.subject,
        TextBody: email.text,
        HtmlBody: email.html,
        Tag: email.tag,
        MessageStream: 'outbound',
        TrackOpens: true,
        TrackLinks: 'HtmlAndText' as never,
        Metadata: { [EMAIL_ID_METADATA_KEY]: email.id },
      });
      if (response.ErrorCode && response.ErrorCode !== 0) throw Object.assign(new Error(response.Message), { statusCode: 422, code: response.ErrorCode });
      if (!response.MessageID) throw new EmailSendError('ambiguous', 'no_message_id', 'Postmark answered without a MessageID.');
      return { messageId: response.MessageID };
    } catch (error) {
      throw error instanceof EmailSendError ? error : classifyPostmarkError(error);
    }
  }

  async find(emailId: string, to: string): Promise<{ messageId: string } | undefined> {
    try {
      // Outbound message search, filtered by our unique metadata value (and the recipient, to keep it small).
      const result = await this.client.getOutboundMessages({ count: 50, offset: 0, recipient: to, [`metadata_${EMAIL_ID_METADATA_KEY}`]: emailId });
      const match = (result.Messages ?? []).find((message) => message.Metadata?.[EMAIL_ID_METADATA_KEY] === emailId);
      return match ? { messageId: match.MessageID } : undefined;
    } catch (error) {
      const failure = classifyPostmarkError(error);
      // A refused search is not a refused message: looking again later may work.
      throw new EmailSendError(failure.kind === 'permanent' ? 'transient' : failure.kind, `search_${failure.code}`, `Searching Postmark failed: ${failure.message}`);
    }
  }

  async reactivate(address: string): Promise<'reactivated' | 'refused'> {
    let result: Awaited<ReturnType<ServerClient['deleteSuppressions']>>;
    try {
      result = await this.client.deleteSuppressions('outbound', { Suppressions: [{ EmailAddress: address }] });
    } catch (error) {
      const failure = classifyPostmarkError(error);
      throw new EmailSendError(failure.kind, `reactivate_${failure.code}`, `Reactivating the address at Postmark failed: ${failure.message}`);
    }
    const status = (result.Suppressions ?? []).find((entry) => entry.EmailAddress?.toLowerCase() === address.toLowerCase())?.Status;
    return status === 'Deleted' ? 'reactivated' : 'refused';
  }
}

/**
 * Without POSTMARK_SERVER_TOKEN outside production: the rendered email stays in the outbox row
 * (status `captured`, listed by GET /v1/emails) and a redacted summary is logged. Nothing is sent.
 */
export class CaptureTransport implements EmailTransport {
  readonly kind = 'capture';

  constructor(private readonly logger: Logger) {}

  async send(email: OutboundEmail): Promise<{ messageId: null }> {
    this.logger.info({ emailId: email.id, template: email.tag, to: maskEmail(email.to), subjectLength: email.subject.length }, 'email captured (no transport configured)');
    return { messageId: null };
  }

  async find(): Promise<undefined> {
    return undefined;
  }

  async reactivate(): Promise<'not_applicable'> {
    return 'not_applicable';
  }
}

export function createTransport(config: AppConfig, logger: Logger): EmailTransport {
  if (config.postmark.serverToken) return new PostmarkTransport(config.postmark.serverToken, config.postmark.apiBase);
  if (config.nodeEnv === 'production') throw new Error('POSTMARK_SERVER_TOKEN is required in production');
  return new CaptureTransport(logger);
}

export function maskEmail(email: string): string {
  const [local, domain] = email.split('@');
  return `${local.slice(0, 1)}***@${domain ?? ''}`;
}
