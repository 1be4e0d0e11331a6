/**
 * A small Prometheus registry written by hand (text exposition format 0.0.4): counters, gauges
 * and histograms with labels. No dependency; only what /metrics needs.
 */
export type Labels = Record<string, string>;
export type MetricType = 'counter' | 'gauge' | 'histogram';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed are escaped. */
export function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go-style float formatting as Prometheus expects (+Inf, -Inf, NaN). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((key) => [key, labels[key]]));
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((key) => `${key}="${escapeLabelValue(labels[key])}"`).join(',')}}`;
}

function checkName(name: string): void {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
}

function checkLabels(labels: Labels): void {
  for (const key of Object.keys(labels)) {
    if (!LABEL_NAME.test(key) || key.startsWith('__')) throw new Error(`invalid label name ${key}`);
  }
}

export abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
  ) {
    checkName(name);
  }
  abstract render(): string[];
}

export class Counter extends Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error('a counter only goes up');
    checkLabels(labels);
    const key = labelKey(labels);
    const entry = this.values.get(key) ?? { labels: { ...labels }, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels))?.value ?? 0;
  }
  render(): string[] {
    return [...this.values.values()].map((entry) => `${this.name}${renderLabels(entry.labels)} ${formatValue(entry.value)}`);
  }
}

export class Gauge extends Metric {
  private values = new Map<string, { labels: Labels; value: number }>();
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(labels: Labels, value: number): void {
    checkLabels(labels);
    this.values.set(labelKey(labels), { labels: { ...labels }, value });
  }
  /** Replaces every series at once (a gauge read from the database at scrape time). */
  replace(series: Array<{ labels: Labels; value: number }>): void {
    this.values = new Map();
    for (const item of series) this.set(item.labels, item.value);
  }
  render(): string[] {
    return [...this.values.values()].map((entry) => `${this.name}${renderLabels(entry.labels)} ${formatValue(entry.value)}`);
  }
}

export const DEFAULT_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram extends Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  readonly buckets: number[];
  constructor(name: string, help: string, buckets: number[] = DEFAULT_LATENCY_BUCKETS) {
    super(name, help, 'histogram');
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    checkLabels(labels);
    if ('le' in labels) throw new Error('"le" is reserved in histograms');
    const key = labelKey(labels);
    const entry = this.series.get(key) ?? { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((bound, index) => {
      if (value <= bound) entry.counts[index] += 1;
    });
    entry.sum += value;
    entry.count += 1;
    this.series.set(key, entry);
  }
  render(): string[] {
    const out: string[] = [];
    for (const entry of this.series.values()) {
      this.buckets.forEach((bound, index) => out.push(`${this.name}_bucket${renderLabels({ ...entry.labels, le: formatValue(bound) })} ${entry.counts[index]}`));
      out.push(`${this.name}_bucket${renderLabels({ ...entry.labels, le: '+Inf' })} ${entry.count}`);
      out.push(`${this.name}_sum${renderLabels(entry.labels)} ${formatValue(entry.sum)}`);
      out.push(`${this.name}_count${renderLabels(entry.labels)} ${entry.count}`);
    }
    return out;
  }
}

/** Renders metric families: `# HELP`, `# TYPE`, then the samples; one trailing newline. */
export function renderExposition(metrics: Metric[]): string {
  const lines: string[] = [];
  for (const metric of metrics) {
    lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
    lines.push(`# TYPE ${metric.name} ${metric.type}`);
    lines.push(...metric.render());
  }
  return `${lines.join('\n')}\n`;
}

/** "2xx", "4xx", … : keeps the label set small. */
export function statusClass(status: number): string {
  return Number.isInteger(status) && status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}
