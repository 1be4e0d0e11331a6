import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import { createHttpApp } from './common/http/http-app.js';
import { createLogger } from './common/logging/logger.js';
import { NestPinoLogger } from './common/logging/logging.module.js';
import { closeSentry, initSentry, reportError } from './common/sentry/sentry.js';
import { ConfigError, loadConfig, type AppConfig, type AppRole } from './config/config.js';
import { openDatabase, type OpenedDatabase } from './database/database.js';

const SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * Starts Ledgerline in the given role (or APP_ROLE): config, logger, database (embedded when
 * DATABASE_URL is absent), then the HTTP listener and/or workers and cron. SIGINT and SIGTERM
 * close the app first (in-flight requests and running jobs finish), then the embedded
 * PostgreSQL, then the process exits 0.
 */
export async function bootstrap(forcedRole?: AppRole): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(forcedRole ? { ...process.env, APP_ROLE: forcedRole } : process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Ledgerline refused to start.\n${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  await initSentry(config.sentryDsn, config.nodeEnv);
  const bootStarted = Date.now();

  let database: OpenedDatabase;
  try {
    database = await openDatabase(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'the database could not be opened');
    logger.flush();
    process.exit(1);
  }
  let context: INestApplicationContext | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string, code: number): Promise<void> =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      const force = setTimeout(() => {
        logger.error('shutdown took too long, exiting');
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      force.unref();
      try {
        await context?.close();
      } catch (error) {
        logger.error({ err: error }, 'error while closing the app');
      }
      await database.stop();
      await closeSentry();
      logger.flush();
      process.exit(code);
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(signal, 0));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    reportError(error, { kind: 'uncaughtException' });
    void shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (error) => {
    logger.error({ err: error }, 'unhandled rejection');
    reportError(error, { kind: 'unhandledRejection' });
  });

  try {
    const options = { config, databaseUrl: database.url, logger };
    if (config.role === 'worker') {
      context = await NestFactory.createApplicationContext(AppModule.forRoot(options), { logger: new NestPinoLogger(logger) });
      await context.init();
      logger.info({ role: config.role, bootMs: Date.now() - bootStarted }, 'Ledgerline worker ready (processors and cron, no HTTP listener)');
      return;
    }
    const app = await createHttpApp(options);
    context = app;
    await app.listen({ port: config.port, host: '0.0.0.0' });
    announce(logger, config, Date.now() - bootStarted, database.embedded);
  } catch (error) {
    logger.fatal({ err: error }, 'Ledgerline failed to start');
    await shutdown('boot failure', 1);
  }
}

function announce(logger: Logger, config: AppConfig, bootMs: number, embedded: boolean): void {
  const base = config.baseUrl;
  const memory = process.memoryUsage();
  logger.info(
    {
      role: config.role,
      bootMs,
      embeddedDatabase: embedded,
      queue: config.redisUrl ? 'redis' : 'postgres',
      rssMb: Math.round(memory.rss / 1048576),
      heapUsedMb: Math.round(memory.heapUsed / 1048576),
    },
    'Ledgerline ready',
  );
  if (process.stdout.isTTY || config.nodeEnv !== 'production') {
    process.stderr.write(
      `\nLedgerline is running (${config.role}, ${embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}, queue on ${config.redisUrl ? 'Redis' : 'PostgreSQL'})\n` +
        `  API:    ${base}/v1\n  Docs:   ${base}/docs  (OpenAPI JSON: ${base}/docs-json)\n  Health: ${base}/health  (readiness: ${base}/health/ready)\n` +
        `Press Ctrl-C to stop.\n\n`,
    );
  }
}
