// Turning measured rounds into metrics, checking targets, and the markdown table.

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const round = (x, digits = 2) => (x == null ? null : Math.round(x * 10 ** digits) / 10 ** digits);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/**
 * Metrics of one scenario. `ratio` is the median over pairs of stack req/s ÷ baseline req/s;
 * per side: medians of req/s and latency percentiles, sums of non-2xx and errors, and RSS/boot time.
 */
function metrics(rounds, servers) {
  const side = (name) => {
    const rs = rounds.filter((r) => r.side === name);
    const probed = rs.filter((r) => r.probe);
    // Only for scenarios with a `probe`: the light second load that ran alongside each round.
    const probe = probed.length === 0 ? {} : {
      probeP50Ms: median(probed.map((r) => r.probe.p50Ms)),
      probeP99Ms: median(probed.map((r) => r.probe.p99Ms)),
      probeMaxMs: median(probed.map((r) => r.probe.maxMs)),
      probeRequests: sum(probed.map((r) => r.probe.requests)),
      probeNon2xx: sum(probed.map((r) => r.probe.non2xx)),
      probeErrors: sum(probed.map((r) => r.probe.errors)),
    };
    return {
      rps: round(median(rs.map((r) => r.rps)), 0),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      non2xx: sum(rs.map((r) => r.non2xx)),
      errors: sum(rs.map((r) => r.errors)),
      bootMs: servers[name].bootMs,
      rssAfterBootMb: servers[name].rssAfterBootMb,
      rssAfterLoadMb: servers[name].rssAfterLoadMb,
      rssMaxMb: servers[name].rssMaxMb, // sampled every 200 ms during every load of the scenario
      ...probe,
    };
  };
  const base = rounds.filter((r) => r.side === 'baseline');
  const stack = rounds.filter((r) => r.side === 'stack');
  const ratios = stack.map((s, i) => (base[i] && base[i].rps ? s.rps / base[i].rps : null));
  return { ratio: round(median(ratios), 3), ratios: ratios.map((r) => round(r, 3)), baseline: side('baseline'), stack: side('stack') };
}

const OPS = { '>=': (a, b) => a >= b, '<=': (a, b) => a <= b, '>': (a, b) => a > b, '<': (a, b) => a < b, '==': (a, b) => a === b };

/** 'ratio >= 0.75' -> { expr, metric, op, value }. Bare metric names mean the stack side. */
function parseTarget(expr) {
  const m = /^\s*([\w.]+)\s*(>=|<=|==|>|<)\s*(-?[\d.]+)\s*$/.exec(expr);
  if (!m) throw new Error(`bad target "${expr}" (expected e.g. "ratio >= 0.75")`);
  return { expr: expr.trim(), metric: m[1], op: m[2], value: Number(m[3]) };
}

function lookup(m, metric) {
  if (metric === 'ratio') return m.ratio;
  const [side, key] = metric.includes('.') ? metric.split('.') : ['stack', metric];
  return m[side]?.[key];
}

function checkTargets(targets, m) {
  return targets.map((t) => {
    const actual = lookup(m, t.metric);
    return { target: t.expr, actual: actual ?? null, pass: typeof actual === 'number' && OPS[t.op](actual, t.value) };
  });
}

/** '<= 1.5' -> { expr, op, value }: the target of a derived value (no metric name). */
function parseDerivedTarget(expr) {
  const m = /^\s*(>=|<=|==|>|<)\s*(-?[\d.]+)\s*$/.exec(expr ?? '');
  if (!m) throw new Error(`bad derived target "${expr}" (expected e.g. "<= 1.5")`);
  return { expr: expr.trim(), op: m[1], value: Number(m[2]) };
}

/**
 * Values computed across a scenario's variants, each checked against its own target:
 * `derived: [{ label, value: (byVariant) => number, target: '<= 1.5' }]`, where `byVariant`
 * maps a variant name to its metrics (as in the table's rows).
 */
function checkDerived(derived, byVariant) {
  return derived.map((d) => {
    const t = d.target === undefined ? null : parseDerivedTarget(d.target); // no target: reported for information
    let value;
    try {
      value = d.value(byVariant);
    } catch {
      value = null;
    }
    value = typeof value === 'number' && Number.isFinite(value) ? round(value, 3) : null;
    return { label: d.label, value, target: t?.expr ?? null, pass: t ? value !== null && OPS[t.op](value, t.value) : null };
  });
}

// ---- markdown ----
const fmt = (x, digits = 1) => (x == null ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits }));
const pair = (m, key, digits) => `${fmt(m.baseline[key], digits)} / ${fmt(m.stack[key], digits)}`;

function table(scenarios) {
  const head = [
    'scenario', 'ratio', 'req/s base / stack', 'p50 ms base / stack', 'p99 ms base / stack',
    'non-2xx base / stack', 'RSS boot MB base / stack', 'RSS end MB base / stack', 'RSS max MB base / stack', 'boot→ready ms stack', 'targets',
  ];
  const row = (name, m, targets) => {
    const errs = m.baseline.errors || m.stack.errors ? ` (conn errors ${m.baseline.errors} / ${m.stack.errors})` : '';
    return [
      name,
      fmt(m.ratio, 3),
      pair(m, 'rps', 0),
      pair(m, 'p50Ms'),
      pair(m, 'p99Ms'),
      pair(m, 'non2xx', 0) + errs,
      pair(m, 'rssAfterBootMb'),
      pair(m, 'rssAfterLoadMb'),
      pair(m, 'rssMaxMb'),
      fmt(m.stack.bootMs, 0),
      targets.map((t) => `${t.pass ? 'PASS' : 'FAIL'} ${t.target} (${fmt(t.actual, 3)})`).join('; '),
    ];
  };
  const rows = scenarios.flatMap((s) => {
    if (s.error) return [[s.name, `**CRASHED**: ${s.error.split('\n')[0]}`, ...head.slice(2).map(() => '–')]];
    if (s.variants) return s.variants.map((v) => row(`${s.name} ${v.label ?? v.name}`, v.metrics, v.targets));
    return [row(s.name, s.metrics, s.targets)];
  });
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** One line per scenario that ran a probe (the table's columns are about the main load). */
function probeNotes(scenarios) {
  return scenarios
    .filter((s) => !s.error && s.probe && s.metrics?.stack.probeP99Ms !== undefined)
    .map((s) => {
      const m = s.metrics;
      const label = s.probe.label ?? `probe ${s.probe.method ?? 'GET'} ${s.probe.path ?? '/'}`;
      const targets = s.targets.filter((t) => /probe/i.test(t.target)).map((t) => `${t.pass ? 'PASS' : 'FAIL'} ${t.target}`).join('; ');
      const bad = m.baseline.probeNon2xx || m.stack.probeNon2xx || m.baseline.probeErrors || m.stack.probeErrors
        ? `, non-2xx ${m.baseline.probeNon2xx} / ${m.stack.probeNon2xx}, errors ${m.baseline.probeErrors} / ${m.stack.probeErrors}` : '';
      return `> ${s.name}: ${label}: p99 ${pair(m, 'probeP99Ms')} ms base / stack (p50 ${pair(m, 'probeP50Ms')}, max ${pair(m, 'probeMaxMs')}; ` +
        `${pair(m, 'probeRequests', 0)} probes${bad})${targets ? ` — ${targets}` : ''}`;
    })
    .join('\n');
}

/** One line per derived value (e.g. list p50 at 1M ÷ at 10k), with its PASS/FAIL. */
function derivedNotes(scenarios) {
  return scenarios
    .filter((s) => !s.error && s.derived?.length)
    .flatMap((s) => s.derived.map((d) => `> ${s.name}: ${d.label} = ${fmt(d.value, 3)}${d.target ? ` — ${d.pass ? 'PASS' : 'FAIL'} ${d.target}` : ' (for information)'}`))
    .join('\n');
}

export { median, metrics, parseTarget, parseDerivedTarget, checkTargets, checkDerived, table, probeNotes, derivedNotes };
