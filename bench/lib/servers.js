// The two kinds of server a scenario compares: the real stack and a bare baseline script.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './proc.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/**
 * The full Ledgerline stack: `node dist/src/main.js` (build it first), ready when
 * GET /health/ready answers 200. DATABASE_URL / REDIS_URL pass through from the
 * environment; without them the app boots an embedded PostgreSQL under .data/.
 * BENCH_STACK_CMD (whitespace-split, no shell) replaces the command, for debugging
 * the orchestrator; it must exec the server directly so the pid is the server's.
 */
export function startStack(ctx, { env = {}, readyPath = '/health/ready' } = {}) {
  const [cmd, ...args] = process.env.BENCH_STACK_CMD
    ? process.env.BENCH_STACK_CMD.trim().split(/\s+/)
    : [process.execPath, '--max-semi-space-size=8', 'dist/src/main.js']; // as `npm start` runs it
  return startServer({
    name: `${ctx.scenario}/stack`,
    cmd,
    args,
    cwd: ROOT,
    cpu: ctx.pin.server,
    env: { ...process.env, ...ctx.stackEnv, ...env },
    readyPath,
    readyTimeoutMs: 120_000,
    logFile: ctx.logFile('stack'),
  });
}

/** A baseline server script from bench/baselines/, same pinning as the stack. */
export function startBaseline(ctx, script, { env = {}, readyPath = '/health' } = {}) {
  return startServer({
    name: `${ctx.scenario}/baseline`,
    cmd: process.execPath,
    args: [path.join(ROOT, 'bench/baselines', script)],
    cwd: ROOT,
    cpu: ctx.pin.server,
    env: { ...process.env, ...env },
    readyPath,
    readyTimeoutMs: 30_000,
    logFile: ctx.logFile('baseline'),
  });
}
