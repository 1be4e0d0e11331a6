import { Counter, escapeHelp, escapeLabelValue, formatValue, Gauge, Histogram, renderExposition, statusClass } from './metrics.js';

describe('Prometheus text exposition', () => {
  it('renders HELP, TYPE and samples of a counter, with labels in the order given', () => {
    const counter = new Counter('ledgerline_things_total', 'Things counted.');
    counter.inc({ provider: 'stripe' });
    counter.inc({ provider: 'stripe' }, 2);
    counter.inc({ provider: 'paypal' });
    expect(renderExposition([counter])).toBe(
      '# HELP ledgerline_things_total Things counted.\n# TYPE ledgerline_things_total counter\nledgerline_things_total{provider="stripe"} 3\nledgerline_things_total{provider="paypal"} 1\n',
    );
    expect(counter.get({ provider: 'stripe' })).toBe(3);
  });

  it('refuses to decrease a counter and refuses bad names', () => {
    const counter = new Counter('ok_total', 'x');
    expect(() => counter.inc({}, -1)).toThrow();
    expect(() => new Counter('1bad', 'x')).toThrow();
    expect(() => counter.inc({ 'bad-label': 'x' })).toThrow();
    expect(() => counter.inc({ __reserved: 'x' })).toThrow();
  });

  it('escapes label values and help text', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(escapeHelp('line\\one\ntwo')).toBe('line\\\\one\\ntwo');
    const gauge = new Gauge('g', 'Help with "quotes"\nand a newline.');
    gauge.set({ route: '/v1/"x"' }, 1);
    expect(renderExposition([gauge])).toBe('# HELP g Help with "quotes"\\nand a newline.\n# TYPE g gauge\ng{route="/v1/\\"x\\""} 1\n');
  });

  it('replaces all series of a gauge at once', () => {
    const gauge = new Gauge('queue_jobs', 'x');
    gauge.replace([{ labels: { queue: 'a' }, value: 1 }, { labels: { queue: 'b' }, value: 2 }]);
    gauge.replace([{ labels: { queue: 'a' }, value: 5 }]);
    expect(renderExposition([gauge])).toBe('# HELP queue_jobs x\n# TYPE queue_jobs gauge\nqueue_jobs{queue="a"} 5\n');
  });

  it('renders cumulative histogram buckets, +Inf, sum and count', () => {
    const histogram = new Histogram('latency_seconds', 'x', [0.1, 1]);
    histogram.observe({ route: '/a' }, 0.05);
    histogram.observe({ route: '/a' }, 0.5);
    histogram.observe({ route: '/a' }, 3);
    histogram.observe({ route: '/a' }, Number.NaN);
    expect(renderExposition([histogram]).split('\n')).toEqual([
      '# HELP latency_seconds x',
      '# TYPE latency_seconds histogram',
      'latency_seconds_bucket{route="/a",le="0.1"} 1',
      'latency_seconds_bucket{route="/a",le="1"} 2',
      'latency_seconds_bucket{route="/a",le="+Inf"} 3',
      'latency_seconds_sum{route="/a"} 3.55',
      'latency_seconds_count{route="/a"} 3',
      '',
    ]);
    expect(() => histogram.observe({ le: '1' }, 1)).toThrow();
  });

  it.each([
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [Number.NaN, 'NaN'],
    [0.25, '0.25'],
    [42, '42'],
  ])('formats %p as %s', (value, text) => {
    expect(formatValue(value)).toBe(text);
  });

  it.each([
    [200, '2xx'],
    [404, '4xx'],
    [503, '5xx'],
    [99, 'other'],
    [600, 'other'],
  ])('classifies status %i as %s', (status, label) => {
    expect(statusClass(status)).toBe(label);
  });
});
