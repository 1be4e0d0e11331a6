import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { ThrottlerModule, type ThrottlerStorage } from '@nestjs/throttler';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.js';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { JwtStrategy } from './jwt.strategy.js';
import { MfaService } from './mfa.service.js';
import { AUTH_LIMIT, AUTH_WINDOW_MS, counterKeys, IpThrottlerGuard, PostgresThrottlerStorage, RedisThrottlerStorage, RefreshThrottlerGuard } from './rate-limit.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';

const RATE_LIMIT_STORAGE = Symbol('RATE_LIMIT_STORAGE');

@Injectable()
class RateLimitStorageCloser implements OnApplicationShutdown {
  constructor(@Inject(RATE_LIMIT_STORAGE) private readonly storage: ThrottlerStorage & { close?: () => Promise<void> }) {}
  async onApplicationShutdown(): Promise<void> {
    await this.storage.close?.();
  }
}

/** The shared counter storage: Redis when configured, PostgreSQL otherwise. */
@Module({})
class RateLimitStorageModule {
  static forRoot(config: AppConfig, keyPrefix: string): DynamicModule {
    return {
      module: RateLimitStorageModule,
      providers: [
        {
          provide: RATE_LIMIT_STORAGE,
          inject: [getDataSourceToken()],
          useFactory: (dataSource: DataSource): ThrottlerStorage =>
            config.redisUrl ? new RedisThrottlerStorage(config.redisUrl, keyPrefix, counterKeys(config.jwtSecret)) : new PostgresThrottlerStorage(dataSource, counterKeys(config.jwtSecret)),
        },
        RateLimitStorageCloser,
      ],
      exports: [RATE_LIMIT_STORAGE],
    };
  }
}

@Module({})
export class AuthModule {
  static forRoot(config: AppConfig, options: { keyPrefix?: string } = {}): DynamicModule {
    const storageModule = RateLimitStorageModule.forRoot(config, options.keyPrefix ?? 'ledgerline');
    return {
      module: AuthModule,
      imports: [
        PassportModule,
        ThrottlerModule.forRootAsync({
          imports: [storageModule],
          inject: [RATE_LIMIT_STORAGE],
          useFactory: (storage: ThrottlerStorage) => ({ throttlers: [{ name: 'default', ttl: AUTH_WINDOW_MS, limit: AUTH_LIMIT }], storage }),
        }),
      ],
      controllers: [AuthController],
      providers: [
        AuthService,
        SessionsService,
        SessionsRepository,
        MfaService,
        JwtStrategy,
        IpThrottlerGuard,
        RefreshThrottlerGuard,
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [SessionsService, IpThrottlerGuard, ThrottlerModule],
    };
  }
}
