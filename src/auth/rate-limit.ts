import { createHmac, createSecretKey, hkdfSync } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerOptions, InjectThrottlerStorage, ThrottlerGuard, type ThrottlerModuleOptions, type ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface.js';
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import { REFRESH_COOKIE } from './access-tokens.js';
import { sessionIdOfRefreshToken } from './tokens.js';

/** 10 requests per 15 minutes on the credential routes (the source document's promise). */
export const AUTH_LIMIT = 10;
export const AUTH_WINDOW_MS = 15 * 60 * 1000;

/**
 * Counter keys as stored: a keyed hash (HMAC-SHA256 under a key derived from JWT_SECRET, so
 * every process agrees) of the key, which often names a client IP (`pages:ip:…`). Neither Redis
 * nor the table then holds an address: a plain hash would not do, as the IPv4 space is small
 * enough to try every address.
 */
export function counterKeys(jwtSecret: string): (key: string) => string {
  const secret = createSecretKey(Buffer.from(hkdfSync('sha256', Buffer.from(jwtSecret, 'utf8'), Buffer.from('ledgerline', 'utf8'), Buffer.from('ledgerline/rate-limit-counter-keys/v1', 'utf8'), 32)));
  return (key) => createHmac('sha256', secret).update(key, 'utf8').digest('base64url').slice(0, 32);
}

/**
 * Counters live in shared storage so every API process spends one budget: Redis when
 * configured, otherwise an UNLOGGED PostgreSQL table. A fixed window per key.
 */
export class PostgresThrottlerStorage implements ThrottlerStorage {
  constructor(
    private readonly dataSource: DataSource,
    private readonly storedKey: (key: string) => string,
  ) {}

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const [row]: Array<{ hits: number; ms_left: string }> = await this.dataSource.query(
      `INSERT INTO rate_limit_counters AS c (key, hits, expires_at) VALUES ($1, 1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN c.expires_at <= now() THEN 1 ELSE c.hits + 1 END,
         expires_at = CASE WHEN c.expires_at <= now() THEN excluded.expires_at ELSE c.expires_at END
       RETURNING hits, ceil(extract(epoch FROM (expires_at - now())) * 1000) AS ms_left`,
      [this.storedKey(key), ttl],
    );
    return record(row.hits, Number(row.ms_left), limit);
  }
}

const INCREMENT = `local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { hits, ttl }`;

export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly redis: Redis;
  constructor(
    url: string,
    private readonly prefix: string,
    private readonly storedKey: (key: string) => string,
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: false });
    this.redis.on('error', () => undefined); // a Redis outage surfaces as a failed request, not a crash
  }

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const [hits, msLeft] = (await this.redis.eval(INCREMENT, 1, `${this.prefix}:rl:${this.storedKey(key)}`, String(ttl))) as [number, number];
    return record(hits, msLeft, limit);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function record(hits: number, msLeft: number, limit: number): ThrottlerStorageRecord {
  const seconds = Math.max(1, Math.ceil(msLeft / 1000));
  return { totalHits: hits, timeToExpire: seconds, isBlocked: hits > limit, timeToBlockExpire: hits > limit ? seconds : 0 };
}

/** Per client IP (the socket address, or X-Forwarded-For only through TRUST_PROXY hops). */
@Injectable()
export class IpThrottlerGuard extends ThrottlerGuard {
  // Declared here so Nest injects our Reflector even when a test runner loads a second copy
  // of @nestjs/core for this CommonJS package (see jest.config.js).
  constructor(@InjectThrottlerOptions() options: ThrottlerModuleOptions, @InjectThrottlerStorage() storage: ThrottlerStorage, reflector: Reflector) {
    super(options, storage, reflector);
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    return `ip:${String((request as unknown as FastifyRequest).ip)}`;
  }

  protected override async throwThrottlingException(): Promise<void> {
    throw new AppError(429, 'rate_limited', 'Too many attempts. Wait before trying again.');
  }
}

/**
 * Refresh is limited per token family (session), not per IP: many mobile users share carrier
 * IPs. A token that names no session is limited per IP instead.
 */
@Injectable()
export class RefreshThrottlerGuard extends IpThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const fastifyRequest = request as unknown as FastifyRequest & { cookies?: Record<string, string | undefined> };
    const body = fastifyRequest.body as { refreshToken?: unknown } | undefined;
    const token = typeof body?.refreshToken === 'string' ? body.refreshToken : fastifyRequest.cookies?.[REFRESH_COOKIE];
    const family = token ? sessionIdOfRefreshToken(token) : undefined;
    return family ? `family:${family}` : super.getTracker(request);
  }
}
