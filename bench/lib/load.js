// Load generator, run as its own process by run.js (pinned apart from the server):
//   node bench/lib/load.js '{"url":"http://127.0.0.1:1234/health","connections":100,...}'
// Runs autocannon once and prints its result JSON (plus loadCpuPct) on stdout.
import autocannon from 'autocannon';

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
  const result = await autocannon({
    url: o.url,
    method: o.method ?? 'GET',
    headers,
    body,
    requests: o.requests,
    connections: o.connections,
    pipelining: o.pipelining,
    duration: o.durationSeconds,
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
