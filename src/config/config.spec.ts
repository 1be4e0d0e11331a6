import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, EXAMPLE_VALUES, loadConfig, type AppConfig } from './config.js';

type Env = Record<string, string | undefined>;

/** A fresh random secret; `bytes` random bytes, hex-encoded (so 2 × bytes characters). */
const randomSecret = (bytes = 32): string => randomBytes(bytes).toString('hex');
/** A random 48-character base64url secret, as an operator would put in a key list. */
const keySecret = (): string => randomBytes(36).toString('base64url');

/** A complete, valid production environment, every secret freshly random. */
function productionEnv(overrides: Env = {}): Env {
  return {
    NODE_ENV: 'production',
    APP_BASE_URL: 'https://ledger.example.com',
    DATABASE_URL: 'postgres://ledgerline@db.internal:5432/ledgerline',
    REDIS_URL: 'rediss://cache.internal:6380',
    JWT_SECRET: randomSecret(),
    LINK_SIGNING_KEYS: `k1:${keySecret()}`,
    ENCRYPTION_KEYS: `e1:${keySecret()}`,
    POSTMARK_SERVER_TOKEN: randomUUID(),
    POSTMARK_WEBHOOK_USER: 'postmark-hooks',
    POSTMARK_WEBHOOK_PASSWORD: randomSecret(),
    EMAIL_FROM: 'Ledgerline <billing@ledger.example.com>',
    ...overrides,
  };
}

const dataDirs: string[] = [];
function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'll-'));
  dataDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function load(env: Env, dataDir = freshDataDir()): AppConfig {
  return loadConfig(env, { dataDir });
}

/** Runs `loadConfig` expecting a ConfigError and returns it. */
function configError(env: Env, dataDir = freshDataDir()): ConfigError {
  try {
    loadConfig(env, { dataDir });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected loadConfig to refuse ${JSON.stringify(Object.keys(env))}`);
}

/** The problems that mention `name`. */
function problemsAbout(error: ConfigError, name: string): string[] {
  return error.problems.filter((problem) => problem.includes(name));
}

describe('loadConfig in development', () => {
  it('starts with the documented defaults when the environment is empty', () => {
    const config = load({});
    expect(config.nodeEnv).toBe('development');
    expect(config.port).toBe(3000);
    expect(config.role).toBe('all');
    expect(config.baseUrl).toBe('http://localhost:3000');
    expect(config.trustProxy).toBe(0);
    expect(config.logLevel).toBe('info');
    expect(config.corsOrigins).toEqual([]);
    expect(config.stripe).toBeUndefined();
    expect(config.paypal).toBeUndefined();
  });

  it('derives the default base URL from PORT and strips trailing slashes from APP_BASE_URL', () => {
    expect(load({ PORT: '8080' }).baseUrl).toBe('http://localhost:8080');
    expect(load({ APP_BASE_URL: 'http://ledger.test:9000//' }).baseUrl).toBe('http://ledger.test:9000');
  });

  it('refuses an invalid APP_ROLE, PORT and LOG_LEVEL', () => {
    expect(problemsAbout(configError({ APP_ROLE: 'admin' }), 'APP_ROLE')).not.toHaveLength(0);
    expect(problemsAbout(configError({ PORT: '70000' }), 'PORT')).not.toHaveLength(0);
    expect(problemsAbout(configError({ PORT: 'http' }), 'PORT')).not.toHaveLength(0);
    expect(problemsAbout(configError({ LOG_LEVEL: 'verbose' }), 'LOG_LEVEL')).not.toHaveLength(0);
  });

  it('accepts each valid APP_ROLE', () => {
    for (const role of ['all', 'api', 'worker']) expect(load({ APP_ROLE: role }).role).toBe(role);
  });
});

describe('generated development secrets', () => {
  const generated = (config: AppConfig): string[] => [
    config.jwtSecret,
    ...config.linkSigningKeys.map((key) => key.secret),
    ...config.encryptionKeys.map((key) => key.secret),
    config.postmark.webhookPassword ?? '',
  ];

  it('generates every missing secret with at least 32 bytes, all different from one another', () => {
    const config = load({});
    const secrets = generated(config);
    expect(config.linkSigningKeys).toHaveLength(1);
    expect(config.encryptionKeys).toHaveLength(1);
    for (const secret of secrets) expect(Buffer.byteLength(secret, 'utf8')).toBeGreaterThanOrEqual(32);
    expect(new Set(secrets).size).toBe(secrets.length);
    for (const key of [...config.linkSigningKeys, ...config.encryptionKeys]) expect(key.id).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
  });

  it('persists them in <dataDir>/secrets.json, readable by the owner only (0600)', () => {
    const dataDir = freshDataDir();
    const config = load({}, dataDir);
    const file = join(dataDir, 'secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = readFileSync(file, 'utf8');
    for (const secret of generated(config)) expect(stored).toContain(secret);
  });

  it('reuses the same secrets on a second load of the same install', () => {
    const dataDir = freshDataDir();
    const first = load({}, dataDir);
    const second = load({}, dataDir);
    expect(generated(second)).toEqual(generated(first));
    expect(second.linkSigningKeys).toEqual(first.linkSigningKeys);
    expect(second.encryptionKeys).toEqual(first.encryptionKeys);
  });

  it('generates different secrets for a different install', () => {
    const first = generated(load({}));
    const second = generated(load({}));
    for (const secret of second) expect(first).not.toContain(secret);
  });

  it('uses a secret given in the environment rather than generating one', () => {
    const jwtSecret = randomSecret();
    expect(load({ JWT_SECRET: jwtSecret }).jwtSecret).toBe(jwtSecret);
  });

  it('generates nothing and writes no secrets file in production', () => {
    const dataDir = freshDataDir();
    configError({ NODE_ENV: 'production' }, dataDir);
    load(productionEnv(), dataDir);
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });
});

describe('loadConfig in production', () => {
  const REQUIRED = [
    'DATABASE_URL',
    'REDIS_URL',
    'JWT_SECRET',
    'LINK_SIGNING_KEYS',
    'ENCRYPTION_KEYS',
    'POSTMARK_SERVER_TOKEN',
    'POSTMARK_WEBHOOK_USER',
    'POSTMARK_WEBHOOK_PASSWORD',
    'EMAIL_FROM',
  ];

  it('refuses an empty environment, naming every missing setting in one error', () => {
    const error = configError({ NODE_ENV: 'production' });
    for (const name of REQUIRED) {
      expect(problemsAbout(error, name)).not.toHaveLength(0);
      expect(error.message).toContain(name);
    }
  });

  it('refuses each required setting when it alone is missing', () => {
    for (const name of REQUIRED) {
      const error = configError(productionEnv({ [name]: undefined }));
      expect(problemsAbout(error, name)).not.toHaveLength(0);
    }
  });

  it('treats a blank value as missing', () => {
    expect(problemsAbout(configError(productionEnv({ JWT_SECRET: '   ' })), 'JWT_SECRET')).not.toHaveLength(0);
  });

  it('loads a complete production environment', () => {
    const env = productionEnv({ TRUST_PROXY: '1', CORS_ORIGINS: 'https://app.example.com', LOG_LEVEL: 'warn' });
    const config = load(env);
    expect(config.nodeEnv).toBe('production');
    expect(config.baseUrl).toBe(env.APP_BASE_URL);
    expect(config.databaseUrl).toBe(env.DATABASE_URL);
    expect(config.redisUrl).toBe(env.REDIS_URL);
    expect(config.jwtSecret).toBe(env.JWT_SECRET);
    expect(config.linkSigningKeys.map((key) => `${key.id}:${key.secret}`)).toEqual([env.LINK_SIGNING_KEYS]);
    expect(config.encryptionKeys.map((key) => `${key.id}:${key.secret}`)).toEqual([env.ENCRYPTION_KEYS]);
    expect(config.postmark).toMatchObject({
      serverToken: env.POSTMARK_SERVER_TOKEN,
      webhookUser: env.POSTMARK_WEBHOOK_USER,
      webhookPassword: env.POSTMARK_WEBHOOK_PASSWORD,
    });
    expect(config.emailFrom).toBe(env.EMAIL_FROM);
    expect(config.trustProxy).toBe(1);
    expect(config.logLevel).toBe('warn');
  });

  it('requires an https APP_BASE_URL (http or none is refused)', () => {
    expect(problemsAbout(configError(productionEnv({ APP_BASE_URL: 'http://ledger.example.com' })), 'APP_BASE_URL')).not.toHaveLength(0);
    expect(problemsAbout(configError(productionEnv({ APP_BASE_URL: undefined })), 'APP_BASE_URL')).not.toHaveLength(0);
    expect(problemsAbout(configError(productionEnv({ APP_BASE_URL: 'ledger.example.com' })), 'APP_BASE_URL')).not.toHaveLength(0);
  });

  it('refuses database and redis URLs of the wrong kind', () => {
    expect(problemsAbout(configError(productionEnv({ DATABASE_URL: 'mysql://db.internal/ledgerline' })), 'DATABASE_URL')).not.toHaveLength(0);
    expect(problemsAbout(configError(productionEnv({ REDIS_URL: 'http://cache.internal' })), 'REDIS_URL')).not.toHaveLength(0);
  });

  it('refuses any secret shorter than 32 bytes, naming the variable', () => {
    const short = randomSecret(15); // 30 characters
    for (const name of ['JWT_SECRET', 'POSTMARK_SERVER_TOKEN', 'POSTMARK_WEBHOOK_PASSWORD']) {
      const problems = problemsAbout(configError(productionEnv({ [name]: short })), name);
      expect(problems.some((problem) => problem.includes('32 bytes'))).toBe(true);
    }
    for (const name of ['LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS']) {
      const problems = problemsAbout(configError(productionEnv({ [name]: `k1:${short}` })), name);
      expect(problems.some((problem) => problem.includes('32 bytes'))).toBe(true);
    }
  });

  it('accepts a secret of exactly 32 bytes', () => {
    const secret = randomSecret(16); // 32 characters
    expect(load(productionEnv({ JWT_SECRET: secret })).jwtSecret).toBe(secret);
  });
});

describe('example values', () => {
  const examples = [...EXAMPLE_VALUES];

  it.each(['production', 'development'])('are refused as JWT_SECRET in %s, in any letter case', (nodeEnv) => {
    for (const example of [...examples, ...examples.map((value) => value.toUpperCase())]) {
      const env = nodeEnv === 'production' ? productionEnv({ JWT_SECRET: example }) : { NODE_ENV: nodeEnv, JWT_SECRET: example };
      expect(problemsAbout(configError(env), 'JWT_SECRET')).not.toHaveLength(0);
    }
  });

  it.each(['production', 'development'])('are refused as the other secrets in %s', (nodeEnv) => {
    const base = nodeEnv === 'production' ? productionEnv() : { NODE_ENV: nodeEnv };
    for (const name of ['POSTMARK_SERVER_TOKEN', 'POSTMARK_WEBHOOK_PASSWORD', 'STRIPE_SECRET_KEY', 'PAYPAL_CLIENT_SECRET']) {
      expect(problemsAbout(configError({ ...base, [name]: 'change-me' }), name)).not.toHaveLength(0);
    }
  });

  it.each(['production', 'development'])('are refused as a key in a key list in %s', (nodeEnv) => {
    const base = nodeEnv === 'production' ? productionEnv() : { NODE_ENV: nodeEnv };
    const keyExamples = [...examples.filter((value) => value.includes(':')), 'k1:change-me'];
    for (const name of ['LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS']) {
      for (const example of keyExamples) {
        expect(problemsAbout(configError({ ...base, [name]: example }), name)).not.toHaveLength(0);
      }
    }
  });

  it('are refused even when long enough to pass the length check', () => {
    const long = examples.filter((value) => Buffer.byteLength(value) >= 32 && !value.includes(':'));
    expect(long).not.toHaveLength(0);
    for (const example of long) {
      expect(problemsAbout(configError(productionEnv({ JWT_SECRET: example })), 'JWT_SECRET')).not.toHaveLength(0);
    }
  });
});

describe('TRUST_PROXY', () => {
  it('refuses "true" and anything that is not a hop count', () => {
    for (const value of ['true', 'yes', '-1', '1.5', '11']) {
      expect(problemsAbout(configError(productionEnv({ TRUST_PROXY: value })), 'TRUST_PROXY')).not.toHaveLength(0);
      expect(problemsAbout(configError({ TRUST_PROXY: value }), 'TRUST_PROXY')).not.toHaveLength(0);
    }
  });

  it('accepts a hop count', () => {
    expect(load(productionEnv({ TRUST_PROXY: '2' })).trustProxy).toBe(2);
    expect(load({ TRUST_PROXY: '0' }).trustProxy).toBe(0);
  });
});

describe('CORS_ORIGINS', () => {
  it('refuses a wildcard or anything that is not an http(s) origin', () => {
    for (const value of ['*', 'https://app.example.com,*', 'app.example.com', 'javascript:alert(1)']) {
      expect(problemsAbout(configError(productionEnv({ CORS_ORIGINS: value })), 'CORS_ORIGINS')).not.toHaveLength(0);
    }
  });

  it('accepts a comma-separated list of exact origins', () => {
    const config = load(productionEnv({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' }));
    expect(config.corsOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
  });
});

describe('key lists', () => {
  it.each(['LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS'])('%s keeps the listed order, the first key being the current one', (name) => {
    const current = keySecret();
    const previous = keySecret();
    const config = load(productionEnv({ [name]: `k2:${current},k1:${previous}` }));
    const keys = name === 'LINK_SIGNING_KEYS' ? config.linkSigningKeys : config.encryptionKeys;
    expect(keys).toEqual([
      { id: 'k2', secret: current },
      { id: 'k1', secret: previous },
    ]);
  });

  it.each(['LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS'])('%s refuses the same key id twice', (name) => {
    const problems = problemsAbout(configError(productionEnv({ [name]: `k1:${keySecret()},k1:${keySecret()}` })), name);
    expect(problems.some((problem) => problem.includes('k1'))).toBe(true);
  });

  it.each(['LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS'])('%s refuses malformed entries', (name) => {
    const secret = keySecret();
    for (const entry of [secret, `:${secret}`, 'k1:', `k 1:${secret}`, `${'k'.repeat(33)}:${secret}`, `k1:${keySecret()},${secret}`, ',']) {
      expect(problemsAbout(configError(productionEnv({ [name]: entry })), name)).not.toHaveLength(0);
      expect(problemsAbout(configError({ [name]: entry }), name)).not.toHaveLength(0);
    }
  });

  it('refuses a key shorter than 32 bytes in development too', () => {
    expect(problemsAbout(configError({ LINK_SIGNING_KEYS: `k1:${randomSecret(8)}` }), 'LINK_SIGNING_KEYS')).not.toHaveLength(0);
  });
});

describe('payment vendors', () => {
  it('refuses Stripe half-configured, accepts it complete', () => {
    expect(problemsAbout(configError(productionEnv({ STRIPE_SECRET_KEY: randomSecret() })), 'STRIPE_WEBHOOK_SECRET')).not.toHaveLength(0);
    expect(problemsAbout(configError(productionEnv({ STRIPE_WEBHOOK_SECRET: randomSecret() })), 'STRIPE_SECRET_KEY')).not.toHaveLength(0);

    const secretKey = randomSecret();
    const webhookSecret = randomSecret();
    const config = load(productionEnv({ STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret }));
    expect(config.stripe).toMatchObject({ secretKey, webhookSecret });
  });

  it('refuses PayPal with any of its three settings missing, accepts it complete', () => {
    const complete = { PAYPAL_CLIENT_ID: 'ledgerline-client', PAYPAL_CLIENT_SECRET: randomSecret(), PAYPAL_WEBHOOK_ID: 'WH-0001' };
    for (const missing of Object.keys(complete)) {
      const error = configError(productionEnv({ ...complete, [missing]: undefined }));
      expect(problemsAbout(error, missing)).not.toHaveLength(0);
    }
    for (const only of Object.keys(complete)) {
      const error = configError(productionEnv({ [only]: complete[only as keyof typeof complete] }));
      expect(problemsAbout(error, 'PAYPAL')).not.toHaveLength(0);
    }
    const config = load(productionEnv(complete));
    expect(config.paypal).toMatchObject({
      clientId: complete.PAYPAL_CLIENT_ID,
      clientSecret: complete.PAYPAL_CLIENT_SECRET,
      webhookId: complete.PAYPAL_WEBHOOK_ID,
    });
  });

  it('configures no vendor when none is set', () => {
    const config = load(productionEnv());
    expect(config.stripe).toBeUndefined();
    expect(config.paypal).toBeUndefined();
  });
});

describe('EMAIL_FROM', () => {
  it('refuses a value with a line break (header injection)', () => {
    for (const value of ['billing@ledger.example.com\r\nBcc: everyone@example.com', 'Ledgerline\n<billing@ledger.example.com>', 'a@b.example\rX: y']) {
      expect(problemsAbout(configError(productionEnv({ EMAIL_FROM: value })), 'EMAIL_FROM')).not.toHaveLength(0);
      expect(problemsAbout(configError({ EMAIL_FROM: value }), 'EMAIL_FROM')).not.toHaveLength(0);
    }
  });

  it('refuses a value that is not an email address', () => {
    expect(problemsAbout(configError(productionEnv({ EMAIL_FROM: 'Ledgerline billing' })), 'EMAIL_FROM')).not.toHaveLength(0);
  });
});

describe('ConfigError', () => {
  it('collects every problem before failing', () => {
    const error = configError(productionEnv({ APP_ROLE: 'root', TRUST_PROXY: 'true', CORS_ORIGINS: '*', JWT_SECRET: 'change-me' }));
    for (const name of ['APP_ROLE', 'TRUST_PROXY', 'CORS_ORIGINS', 'JWT_SECRET']) {
      expect(problemsAbout(error, name)).not.toHaveLength(0);
      expect(error.message).toContain(name);
    }
  });

  it('never echoes a secret value in its message', () => {
    const short = randomSecret(8);
    const error = configError(productionEnv({ JWT_SECRET: short, LINK_SIGNING_KEYS: `k1:${short}` }));
    expect(error.message).not.toContain(short);
  });
});
