import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { DynamicModule, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createHttpApp } from '../../src/common/http/http-app.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { createTestDatabase } from './databases.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** Sends a request through the real Fastify instance (all hooks, parsers, guards, filters). */
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse>;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log output, for "this string never appears" checks. */
  rawLogs(): string;
  /** A direct connection to the suite's database, as the app's owner. */
  db: pg.Pool;
  databaseUrl: string;
  /** The queue and rate-limit key prefix on Redis (unique per suite). */
  queuePrefix: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  extraModules?: Array<Type | DynamicModule>;
}

/**
 * Boots the real application against a fresh database (created here, migrated, dropped on
 * close) and a fresh queue namespace: Redis with a unique prefix when REDIS_URL is set,
 * otherwise BullMQ's PostgreSQL backend inside the suite's own database.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const databaseUrl = database.url;
  const suffix = randomBytes(6).toString('hex');

  const dataDir = mkdtempSync(join(tmpdir(), 'ledgerline-test-'));
  const config = loadConfig(
    { NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl, REDIS_URL: process.env.REDIS_URL, ...options.env },
    { dataDir },
  );
  const raw: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString('utf8');
      raw.push(text);
      for (const line of text.split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const queuePrefix = `ll-test-${suffix}`;
  let app: NestFastifyApplication | undefined;
  try {
    app = await createHttpApp({ config, databaseUrl, logger, queuePrefix, extraModules: options.extraModules });
    await app.init();
  } catch (error) {
    await app?.close().catch(() => undefined);
    // A boot that fails (the point of some tests) leaves no database or queue keys behind.
    await database.drop();
    if (config.redisUrl) await deleteRedisPrefix(config.redisUrl, queuePrefix);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const booted = app;
  const fastify = booted.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  await fastify.ready();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // DROP DATABASE ... WITH (FORCE) at close may cut a connection the pool is still closing.
  db.on('error', () => undefined);

  return {
    app: booted,
    config,
    inject: (request) => fastify.inject(request as InjectOptions),
    logs,
    rawLogs: () => raw.join(''),
    db,
    databaseUrl,
    queuePrefix,
    async close() {
      await booted.close();
      await db.end();
      await database.drop();
      if (config.redisUrl) await deleteRedisPrefix(config.redisUrl, queuePrefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
