import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type NodeEnv = 'development' | 'test' | 'production';
export type AppRole = 'all' | 'api' | 'worker';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** One entry of a key list (`LINK_SIGNING_KEYS`, `ENCRYPTION_KEYS`): `id:secret`. */
export interface KeyEntry {
  id: string;
  secret: string;
}

export interface StripeConfig {
  secretKey: string;
  webhookSecret: string;
  apiBase?: string;
}

export interface PaypalConfig {
  clientId: string;
  clientSecret: string;
  webhookId: string;
  apiBase: string;
}

export interface PostmarkConfig {
  serverToken?: string;
  apiBase?: string;
  webhookUser?: string;
  webhookPassword?: string;
}

/** The whole configuration, validated once at boot. Nothing else reads `process.env`. */
export interface AppConfig {
  nodeEnv: NodeEnv;
  port: number;
  role: AppRole;
  baseUrl: string;
  /** Absent in the embedded footprint: the database module starts PostgreSQL itself. */
  databaseUrl?: string;
  /** Absent in the embedded footprint: the queue runs on PostgreSQL. */
  redisUrl?: string;
  jwtSecret: string;
  linkSigningKeys: KeyEntry[];
  encryptionKeys: KeyEntry[];
  corsOrigins: string[];
  /** Number of reverse-proxy hops whose X-Forwarded-For we believe (0 = none). */
  trustProxy: number;
  sentryDsn?: string;
  logLevel: LogLevel;
  stripe?: StripeConfig;
  paypal?: PaypalConfig;
  postmark: PostmarkConfig;
  emailFrom: string;
  /** Who is emailed about platform-wide security events (which concern no single business, e.g. forged webhooks). */
  operatorAlertEmails: string[];
  /** Where development secrets and the embedded database live. */
  dataDir: string;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Placeholder values from `.env.example`; production refuses them. */
export const EXAMPLE_VALUES = new Set([
  'change-me',
  'changeme',
  'secret',
  'example',
  'replace-with-at-least-32-random-bytes-000000',
  'k1:replace-with-at-least-32-random-bytes-000000',
]);

const MIN_SECRET_BYTES = 32;
const ROLES: AppRole[] = ['all', 'api', 'worker'];
const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Reads and validates the environment. Collects every problem before failing so an operator
 * fixes them all in one go. In development and test, missing secrets are generated once per
 * install and kept in `<dataDir>/secrets.json` (mode 0600), never taken from a constant.
 */
export function loadConfig(env: Env = process.env, options: { dataDir?: string } = {}): AppConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };

  const nodeEnvRaw = value('NODE_ENV') ?? 'development';
  if (!['development', 'test', 'production'].includes(nodeEnvRaw)) {
    problems.push(`NODE_ENV must be development, test or production (got "${nodeEnvRaw}")`);
  }
  const nodeEnv = nodeEnvRaw as NodeEnv;
  const production = nodeEnv === 'production';
  const dataDir = options.dataDir ?? value('LEDGERLINE_DATA_DIR') ?? join(process.cwd(), '.data');

  const port = parseInteger(value('PORT') ?? '3000', 'PORT', 0, 65535, problems);
  const role = (value('APP_ROLE') ?? 'all') as AppRole;
  if (!ROLES.includes(role)) problems.push(`APP_ROLE must be one of ${ROLES.join(', ')} (got "${role}")`);
  const logLevel = (value('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LEVELS.join(', ')}`);

  const trustProxyRaw = value('TRUST_PROXY') ?? '0';
  // A hop count only: "true" would make every client able to choose its own IP.
  const trustProxy = /^\d+$/.test(trustProxyRaw)
    ? parseInteger(trustProxyRaw, 'TRUST_PROXY', 0, 10, problems)
    : (problems.push('TRUST_PROXY must be a number of proxy hops (0-10), never "true"'), 0);

  const baseUrl = (value('APP_BASE_URL') ?? `http://localhost:${port}`).replace(/\/+$/, '');
  if (!isUrl(baseUrl, ['http:', 'https:'])) problems.push('APP_BASE_URL must be an http(s) URL');
  else if (production && !isUrl(baseUrl, ['https:'])) problems.push('APP_BASE_URL must use https in production');

  const databaseUrl = value('DATABASE_URL');
  if (databaseUrl && !isUrl(databaseUrl, ['postgres:', 'postgresql:'])) {
    problems.push('DATABASE_URL must be a postgres:// URL');
  }
  const redisUrl = value('REDIS_URL');
  if (redisUrl && !isUrl(redisUrl, ['redis:', 'rediss:'])) problems.push('REDIS_URL must be a redis:// or rediss:// URL');
  for (const [name, url] of [['DATABASE_URL', databaseUrl], ['REDIS_URL', redisUrl]] as const) {
    const password = url && isUrl(url, ['postgres:', 'postgresql:', 'redis:', 'rediss:']) ? decodeURIComponent(new URL(url).password) : '';
    if (password && EXAMPLE_VALUES.has(password.toLowerCase())) problems.push(`${name} holds an example password; generate a random one`);
  }
  if (production && !databaseUrl) problems.push('DATABASE_URL is required in production');
  if (production && !redisUrl) problems.push('REDIS_URL is required in production');

  const corsOrigins = (value('CORS_ORIGINS') ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    // An origin is scheme://host[:port] exactly as a browser sends it: no path, no wildcard.
    if (origin === '*' || !isUrl(origin, ['http:', 'https:']) || new URL(origin).origin !== origin) {
      problems.push(`CORS_ORIGINS must list exact origins, "${origin}" is not one`);
    }
  }

  const sentryDsn = value('SENTRY_DSN');
  if (sentryDsn && !isUrl(sentryDsn, ['http:', 'https:'])) problems.push('SENTRY_DSN must be a URL');

  let generated: DevelopmentSecrets | undefined;
  try {
    generated = production ? undefined : new DevelopmentSecrets(dataDir);
  } catch (error) {
    throw new ConfigError([`${join(dataDir, 'secrets.json')} cannot be read (${(error as Error).message}); fix or delete it`]);
  }
  const secret = (name: string, required: boolean): string | undefined => {
    const given = value(name);
    if (given !== undefined) {
      checkSecret(name, given, production, problems);
      return given;
    }
    if (!required) return undefined;
    if (production) {
      problems.push(`${name} is required in production`);
      return undefined;
    }
    return generated!.get(name, () => randomBytes(48).toString('base64url'));
  };

  const jwtSecret = secret('JWT_SECRET', true) ?? '';
  const linkSigningKeys = keyList('LINK_SIGNING_KEYS', value('LINK_SIGNING_KEYS'), production, problems, generated);
  const encryptionKeys = keyList('ENCRYPTION_KEYS', value('ENCRYPTION_KEYS'), production, problems, generated);

  // Vendors are optional, but each is configured completely or not at all.
  let stripe: StripeConfig | undefined;
  const stripeSecretKey = secret('STRIPE_SECRET_KEY', false);
  const stripeWebhookSecret = secret('STRIPE_WEBHOOK_SECRET', false);
  const stripeApiBase = value('STRIPE_API_BASE');
  if (stripeApiBase && !isUrl(stripeApiBase, ['http:', 'https:'])) problems.push('STRIPE_API_BASE must be a URL');
  if (stripeSecretKey || stripeWebhookSecret) {
    if (!stripeSecretKey || !stripeWebhookSecret) {
      problems.push('STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set together');
    } else {
      stripe = { secretKey: stripeSecretKey, webhookSecret: stripeWebhookSecret, apiBase: stripeApiBase };
    }
  }

  let paypal: PaypalConfig | undefined;
  const paypalClientId = value('PAYPAL_CLIENT_ID');
  const paypalClientSecret = secret('PAYPAL_CLIENT_SECRET', false);
  const paypalWebhookId = value('PAYPAL_WEBHOOK_ID');
  // Live PayPal in production, its sandbox elsewhere, unless set.
  const paypalApiBase = value('PAYPAL_API_BASE') ?? (production ? 'https://api-m.paypal.com' : 'https://api-m.sandbox.paypal.com');
  if (!isUrl(paypalApiBase, ['http:', 'https:'])) problems.push('PAYPAL_API_BASE must be a URL');
  if (paypalClientId || paypalClientSecret || paypalWebhookId) {
    if (!paypalClientId || !paypalClientSecret || !paypalWebhookId) {
      problems.push('PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET and PAYPAL_WEBHOOK_ID must be set together');
    } else {
      paypal = { clientId: paypalClientId, clientSecret: paypalClientSecret, webhookId: paypalWebhookId, apiBase: paypalApiBase };
    }
  }

  // Production sends real email, so Postmark and its webhook credentials are required there;
  // elsewhere a missing token selects the capture transport.
  const postmarkApiBase = value('POSTMARK_API_BASE');
  if (postmarkApiBase && !isUrl(postmarkApiBase, ['http:', 'https:'])) problems.push('POSTMARK_API_BASE must be a URL');
  const postmark: PostmarkConfig = {
    serverToken: secret('POSTMARK_SERVER_TOKEN', production),
    apiBase: postmarkApiBase,
    webhookUser: value('POSTMARK_WEBHOOK_USER') ?? (production ? undefined : 'postmark'),
    webhookPassword: secret('POSTMARK_WEBHOOK_PASSWORD', true),
  };
  if (production && !postmark.webhookUser) problems.push('POSTMARK_WEBHOOK_USER is required in production');

  const emailFrom = value('EMAIL_FROM') ?? (production ? '' : 'Ledgerline <billing@localhost>');
  if (!emailFrom) problems.push('EMAIL_FROM is required in production');
  else if (/[\r\n]/.test(emailFrom) || !/@/.test(emailFrom)) problems.push('EMAIL_FROM must be one email address');

  const operatorAlertEmails = (value('OPERATOR_ALERT_EMAILS') ?? '').split(',').map((address) => address.trim()).filter(Boolean);
  for (const address of operatorAlertEmails) {
    if (!/^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/.test(address) || address.length > 254) {
      problems.push('OPERATOR_ALERT_EMAILS must be email addresses separated by commas');
      break;
    }
  }

  generated?.save();
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    nodeEnv,
    port,
    role,
    baseUrl,
    databaseUrl,
    redisUrl,
    jwtSecret,
    linkSigningKeys,
    encryptionKeys,
    corsOrigins,
    trustProxy,
    sentryDsn,
    logLevel,
    stripe,
    paypal,
    postmark,
    emailFrom,
    operatorAlertEmails,
    dataDir,
  };
}

function checkSecret(name: string, secretValue: string, production: boolean, problems: string[]): void {
  if (EXAMPLE_VALUES.has(secretValue.toLowerCase())) {
    problems.push(`${name} is an example value; generate a random one`);
  } else if (production && Buffer.byteLength(secretValue, 'utf8') < MIN_SECRET_BYTES) {
    problems.push(`${name} must be at least ${MIN_SECRET_BYTES} bytes`);
  }
}

/** `id:secret,id:secret`, first entry is the current one. */
function keyList(
  name: string,
  raw: string | undefined,
  production: boolean,
  problems: string[],
  generated: DevelopmentSecrets | undefined,
): KeyEntry[] {
  if (raw === undefined) {
    if (production) {
      problems.push(`${name} is required in production`);
      return [];
    }
    raw = generated!.get(name, () => `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}:${randomBytes(48).toString('base64url')}`);
  }
  const entries: KeyEntry[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const separator = part.indexOf(':');
    const id = separator > 0 ? part.slice(0, separator) : '';
    const secretValue = separator > 0 ? part.slice(separator + 1) : '';
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id) || !secretValue) {
      problems.push(`${name} entries must look like "keyId:secret" (key id: letters, digits, - or _)`);
      continue;
    }
    if (entries.some((entry) => entry.id === id)) problems.push(`${name} has the key id "${id}" twice`);
    checkSecret(`${name} (key "${id}")`, secretValue, production, problems);
    if (!production && Buffer.byteLength(secretValue, 'utf8') < MIN_SECRET_BYTES) {
      problems.push(`${name} (key "${id}") must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    entries.push({ id, secret: secretValue });
  }
  if (entries.length === 0 && !problems.some((p) => p.startsWith(name))) problems.push(`${name} must hold at least one key`);
  return entries;
}

function parseInteger(raw: string, name: string, min: number, max: number, problems: string[]): number {
  const parsed = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max}`);
    return min;
  }
  return parsed;
}

function isUrl(raw: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(raw).protocol);
  } catch {
    return false;
  }
}

/** Per-install random secrets for development and test, kept under the data directory. */
class DevelopmentSecrets {
  private readonly file: string;
  private readonly values: Record<string, string>;
  private dirty = false;

  constructor(private readonly dataDir: string) {
    this.file = join(dataDir, 'secrets.json');
    if (existsSync(this.file)) {
      chmodSync(this.file, 0o600); // tighten a file someone loosened
      const parsed: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      this.values = parsed as Record<string, string>;
    } else {
      this.values = {};
    }
  }

  get(name: string, create: () => string): string {
    if (!this.values[name]) {
      this.values[name] = create();
      this.dirty = true;
    }
    return this.values[name];
  }

  save(): void {
    if (!this.dirty) return;
    mkdirSync(this.dataDir, { recursive: true, mode: 0o711 });
    writeFileSync(this.file, `${JSON.stringify(this.values, null, 2)}\n`, { mode: 0o600 });
    chmodSync(this.file, 0o600);
  }
}
