// Load generator, run as its own process by run.js (pinned apart from the server):
//   node bench/lib/load.js '{"url":"http://127.0.0.1:1234/health","connections":100,...}'
// Runs autocannon once and prints its result JSON (plus loadCpuPct) on stdout.
//
// Two modes replace autocannon when a spec asks for them (both print the autocannon fields
// run.js reads; latencies are exact percentiles, in ms with one decimal):
//
// - `uniqueSourceAddress: true`: a closed loop. Each of `connections` workers sends one request at
//   a time, every request on a new connection from a new random loopback source address
//   (127.x.y.z), so a server's per-client-IP rate limiter sees a different client each time. For
//   slow routes (a few req/s, e.g. bcrypt logins), where the extra TCP handshake is noise.
//   requests.average is completed responses ÷ seconds from the start to the last completion (a
//   per-second count, as autocannon averages, is too coarse at a few req/s).
// - `intervalMs: N`: paced. One request every N ms on keep-alive connections (a new one whenever
//   all are busy), whatever the previous answers took: a light probe that samples a server's
//   responsiveness evenly over the whole load. (autocannon's rate limit sends each second's
//   quota in a burst at the start of the second instead.)
//
// In both, requests still in flight at the end are abandoned, as autocannon does; the server may
// keep working on them (see `settle` in run.js).
import http from 'node:http';
import autocannon from 'autocannon';
import { randomLoopbackAddress } from './proc.js';

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function ownLoad(o, headers, body) {
  const url = new URL(o.url);
  const timeoutMs = (o.timeoutSeconds ?? 10) * 1000;
  const paced = !o.uniqueSourceAddress;
  const agent = paced ? new http.Agent({ keepAlive: true }) : false;
  const latencies = [];
  const statusCodeStats = {};
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let lastDone = 0;
  const inflight = new Set();
  const t0 = performance.now();
  const deadline = t0 + o.durationSeconds * 1000;
  const reqHeaders = { ...headers, 'content-length': body === undefined ? 0 : Buffer.byteLength(body) };

  /** One request; resolves when it is over, however it ended. */
  const one = () => new Promise((resolve) => {
    const started = performance.now();
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: o.method ?? 'GET', headers: reqHeaders,
      agent, timeout: timeoutMs, ...(o.uniqueSourceAddress && { localAddress: randomLoopbackAddress() }),
    }, (res) => {
      res.on('error', () => undefined); // aborted mid-body: counted (or not) by the request's handlers
      res.resume();
      res.on('end', () => {
        inflight.delete(req);
        const now = performance.now();
        if (now <= deadline) {
          latencies.push(now - started);
          lastDone = now;
          statusCodeStats[res.statusCode] = { count: (statusCodeStats[res.statusCode]?.count ?? 0) + 1 };
          if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
        }
        resolve();
      });
    });
    req.on('timeout', () => {
      timeouts++;
      req.timedOut = true;
      req.destroy();
    });
    req.on('error', () => {
      inflight.delete(req);
      if (!req.abandoned && !req.timedOut && performance.now() <= deadline) errors++;
      resolve();
    });
    req.on('close', () => {
      inflight.delete(req);
      resolve(); // whichever of end / error / close comes first frees the worker
    });
    inflight.add(req);
    req.end(body);
  });

  const abandon = setTimeout(() => {
    for (const req of inflight) {
      req.abandoned = true;
      req.destroy();
    }
  }, o.durationSeconds * 1000);
  if (paced) {
    const sent = [];
    await new Promise((resolve) => {
      const tick = () => {
        if (performance.now() >= deadline) return resolve();
        sent.push(one());
        setTimeout(tick, Math.max(0, t0 + sent.length * o.intervalMs - performance.now())); // no drift
      };
      tick();
    });
    await Promise.all(sent);
    agent.destroy();
  } else {
    await Promise.all(Array.from({ length: o.connections ?? 1 }, async () => {
      while (performance.now() < deadline) await one();
    }));
  }
  clearTimeout(abandon);

  const sorted = latencies.sort((a, b) => a - b);
  const ms = (x) => (x == null ? null : Math.round(x * 10) / 10);
  const seconds = !paced && lastDone > t0 ? (lastDone - t0) / 1000 : o.durationSeconds;
  return {
    url: o.url,
    mode: paced ? `one request every ${o.intervalMs} ms` : 'closed loop, one connection and source address per request',
    connections: o.connections,
    duration: o.durationSeconds,
    requests: { average: latencies.length / seconds, total: latencies.length },
    latency: {
      p50: ms(percentile(sorted, 50)), p99: ms(percentile(sorted, 99)), max: ms(sorted.at(-1)),
      mean: ms(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
    },
    non2xx,
    errors,
    timeouts,
    statusCodeStats,
  };
}

async function main() {
  const o = JSON.parse(process.argv[2]);
  const headers = { ...o.headers };
  let body = o.body;
  if (body !== undefined && typeof body !== 'string') {
    body = JSON.stringify(body);
    headers['content-type'] ??= 'application/json';
  }
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = o.uniqueSourceAddress || o.intervalMs ? await ownLoad(o, headers, body) : await autocannon({
    url: o.url,
    method: o.method ?? 'GET',
    headers,
    body,
    requests: o.requests,
    connections: o.connections,
    pipelining: o.pipelining,
    duration: o.durationSeconds,
    // Only when given: autocannon merges options with Object.assign, so an undefined would erase its default.
    ...(o.timeoutSeconds !== undefined && { timeout: o.timeoutSeconds }), // per request; default 10 s
  });
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // How busy the load generator itself was: near 100 % means it, not the server, may be the limit.
  result.loadCpuPct = Math.round(((cpu.user + cpu.system) / wallUs) * 100);
  process.stdout.write(JSON.stringify(result));
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
