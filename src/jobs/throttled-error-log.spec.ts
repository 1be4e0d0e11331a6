import { throttledErrorLog } from './throttled-error-log.js';

describe('throttledErrorLog', () => {
  it('logs the first error of a source, then one line per window with the repeats in between', () => {
    const lines: Array<Record<string, unknown>> = [];
    let clock = 0;
    const log = throttledErrorLog({ warn: ((object: Record<string, unknown>) => lines.push(object)) as never }, 10_000, () => clock);
    for (let i = 0; i < 50; i += 1) {
      log('worker:email', new Error('database is not accepting connections'));
      clock += 100; // ten a second, as a retrying worker does
    }
    log('worker:auth', new Error('down'));
    expect(lines.map((line) => [line.source, line.repeats])).toEqual([
      ['worker:email', 0],
      ['worker:auth', 0],
    ]);
    clock += 10_000;
    log('worker:email', new Error('still down'));
    expect(lines.at(-1)).toMatchObject({ source: 'worker:email', repeats: 49 });
  });
});
