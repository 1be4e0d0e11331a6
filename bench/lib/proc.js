// Process helpers: free ports, CPU pinning, server lifecycle, /proc readings.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nobody listens on right now (listen on 0, read it, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `{ server, load }` CPU numbers, or nulls when pinning is off or impossible. */
function pinning(enabled) {
  const ok = enabled && os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
  return ok ? { server: 0, load: 1 } : { server: null, load: null };
}

/** Prefix a command with `taskset -c <cpu>` (taskset execs, so the pid stays the command's). */
function pinned(cpu, cmd, args) {
  return cpu == null ? [cmd, args] : ['taskset', ['-c', String(cpu), cmd, ...args]];
}

function procStatus(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

/** VmRSS of one process in MiB (children such as an embedded PostgreSQL are not included). */
function rssMb(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(procStatus(pid));
  return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
}

function alive(pid) {
  const m = /^State:\s+(\S)/m.exec(procStatus(pid));
  return Boolean(m) && m[1] !== 'Z' && m[1] !== 'X';
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** user+system CPU seconds consumed so far by one process, or null. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 (utime) and 15 (stime)
  } catch {
    return null;
  }
}

/**
 * CPU seconds so far of every PostgreSQL backend serving database `dbName` on this machine
 * (processes titled "postgres: … <user> <dbName> …"), as Map pid -> seconds. A local database
 * only; for a per-round figure, diff two snapshots (see dbCpuDelta).
 */
function dbBackendCpu(dbName) {
  const out = new Map();
  if (!dbName) return out;
  let pids;
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let title;
    try {
      title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (!title.startsWith('postgres: ') || !title.split(/\s+/).includes(dbName)) continue;
    const cpu = cpuSeconds(pid);
    if (cpu != null) out.set(pid, cpu);
  }
  return out;
}

/** Seconds of CPU the backends used between two dbBackendCpu snapshots (new backends count from 0). */
function dbCpuDelta(before, after) {
  let sum = 0;
  for (const [pid, cpu] of after) sum += cpu - (before.get(pid) ?? 0);
  return sum;
}

function httpStatus(url, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/**
 * A random loopback address 127.1-254.x.1-254 (never 127.0.0.1). Linux routes all of
 * 127.0.0.0/8 to `lo`, so a client may bind any of them as its source address: to a server
 * listening on 0.0.0.0 each one is a different client IP (e.g. for a per-IP rate limiter).
 */
function randomLoopbackAddress() {
  return `127.${1 + randomInt(254)}.${randomInt(256)}.${1 + randomInt(254)}`;
}

/** One HTTP request on its own connection; resolves to { status, text, json() }. */
function httpRequest(url, { method = 'GET', headers = {}, body, localAddress, timeoutMs = 30_000 } = {}) {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const h = { ...headers };
  if (payload !== undefined) {
    h['content-type'] ??= 'application/json';
    h['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: h, agent: false, localAddress, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, json: () => JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Wait until a process is idle: its CPU use over one `intervalMs` falls below `cpuPct`, or
 * `maxSeconds` pass. For servers that keep working after the client stopped (a load generator
 * abandons in-flight requests; a bcrypt backlog still runs), so the next load, possibly on the
 * other server pinned to the same CPU, starts on a quiet machine. Resolves to the ms waited.
 */
async function waitIdle(pid, { cpuPct = 10, maxSeconds = 30, intervalMs = 250 } = {}) {
  const t0 = performance.now();
  let prev = cpuSeconds(pid);
  while (prev != null && performance.now() - t0 < maxSeconds * 1000) {
    await sleep(intervalMs);
    const now = cpuSeconds(pid);
    if (now == null || ((now - prev) / (intervalMs / 1000)) * 100 < cpuPct) break;
    prev = now;
  }
  return Math.round(performance.now() - t0);
}

function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const live = new Set(); // servers not yet stopped, for stopAll() on Ctrl-C

/**
 * Spawn a server on a free port (env PORT), output to `logFile`, pinned to `cpu`,
 * and wait until GET <readyPath> answers 200. Returns { url, pid, port, logFile, stop() }.
 * The server leads its own process group, so a SIGKILL fallback also reaches its children.
 */
async function startServer({ name, cmd, args, env, cwd, cpu, readyPath, readyTimeoutMs, logFile }) {
  const port = await freePort();
  const fd = fs.openSync(logFile, 'a');
  const [command, argv] = pinned(cpu, cmd, args);
  const child = spawn(command, argv, {
    cwd,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  fs.closeSync(fd);
  let exit = null;
  const exited = new Promise((resolve) => {
    child.on('error', (err) => resolve((exit = { error: err.message })));
    child.on('exit', (code, signal) => resolve((exit = { code, signal })));
  });

  const url = `http://127.0.0.1:${port}`;
  const server = { name, url, port, pid: child.pid, logFile, stop };
  live.add(server);

  let stopping = null;
  function stop() {
    return (stopping ??= terminate());
  }
  async function terminate() {
    live.delete(server);
    if (!exit) {
      child.kill('SIGTERM'); // the app stops its embedded PostgreSQL on SIGTERM
      let timer;
      const timeout = new Promise((resolve) => (timer = setTimeout(resolve, 30_000, 'timeout')));
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        process.stderr.write(`! ${name} ignored SIGTERM for 30 s, sending SIGKILL to its group\n`);
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
        await exited;
        return exit;
      }
    }
    try {
      process.kill(-child.pid, 0); // anything (an embedded PostgreSQL?) left in the group?
      process.stderr.write(`! ${name} exited but left processes in its group: kill -- -${child.pid}\n`);
    } catch { /* group empty: clean exit */ }
    return exit;
  }

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exit) {
      live.delete(server);
      throw new Error(`${name} exited before ready (${JSON.stringify(exit)}), see ${path.relative(process.cwd(), logFile)}\n${tail(logFile)}`);
    }
    if ((await httpStatus(url + readyPath)) === 200) return server;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not ready after ${readyTimeoutMs} ms, see ${path.relative(process.cwd(), logFile)}\n${tail(logFile)}`);
    }
    await sleep(50);
  }
}

async function stopAll() {
  await Promise.all([...live].map((s) => s.stop()));
}

export { sleep, freePort, pinning, pinned, rssMb, alive, cpuSeconds, dbBackendCpu, dbCpuDelta, startServer, stopAll, tail, randomLoopbackAddress, httpRequest, waitIdle };
