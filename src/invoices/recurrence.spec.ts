import { type RecurrenceSchedule, occurrencesBetween, periodKey, validateSchedule } from './recurrence.js';

const monthly = (startDate: string, extra: Partial<RecurrenceSchedule> = {}): RecurrenceSchedule => ({ every: 1, unit: 'month', startDate, ...extra });

describe('occurrencesBetween: months', () => {
  it('clamps the 31st to short months without drifting', () => {
    expect(occurrencesBetween(monthly('2025-01-31'), '2025-01-01', '2025-07-31')).toEqual([
      '2025-01-31',
      '2025-02-28',
      '2025-03-31',
      '2025-04-30',
      '2025-05-31',
      '2025-06-30',
      '2025-07-31',
    ]);
  });

  it('gives Feb 29 in a leap year', () => {
    expect(occurrencesBetween(monthly('2028-01-31'), '2028-01-01', '2028-03-31')).toEqual(['2028-01-31', '2028-02-29', '2028-03-31']);
    expect(occurrencesBetween(monthly('2025-01-30'), '2028-02-01', '2028-03-31')).toEqual(['2028-02-29', '2028-03-30']);
  });

  it('clamps the 31st in consecutive Februaries of a common, a leap and a common year', () => {
    const schedule = monthly('2027-01-31');
    const februaries = occurrencesBetween(schedule, '2027-01-01', '2029-12-31').filter((date) => date.slice(5, 7) === '02');
    expect(februaries).toEqual(['2027-02-28', '2028-02-29', '2029-02-28']);
    expect(periodKey(schedule, '2028-02-29')).toBe('13');
    expect(() => periodKey(schedule, '2028-02-28')).toThrow(/not an occurrence/);
  });

  it('keeps the 29th and 30th after February', () => {
    expect(occurrencesBetween(monthly('2025-01-29'), '2025-01-01', '2025-03-31')).toEqual(['2025-01-29', '2025-02-28', '2025-03-29']);
  });

  it('runs yearly on Feb 29 as every 12 months: Feb 28 in other years', () => {
    const schedule: RecurrenceSchedule = { every: 12, unit: 'month', startDate: '2024-02-29' };
    expect(occurrencesBetween(schedule, '2024-01-01', '2032-12-31')).toEqual([
      '2024-02-29',
      '2025-02-28',
      '2026-02-28',
      '2027-02-28',
      '2028-02-29',
      '2029-02-28',
      '2030-02-28',
      '2031-02-28',
      '2032-02-29',
    ]);
    // 2100 is not a leap year, 2000 was.
    expect(occurrencesBetween({ ...schedule, startDate: '1996-02-29' }, '2000-01-01', '2000-12-31')).toEqual(['2000-02-29']);
    expect(occurrencesBetween(schedule, '2100-01-01', '2100-12-31')).toEqual(['2100-02-28']);
  });

  it('uses dayOfMonth, anchored on the first such day on or after startDate', () => {
    expect(occurrencesBetween(monthly('2025-01-10', { dayOfMonth: 31 }), '2025-01-01', '2025-03-31')).toEqual(['2025-01-31', '2025-02-28', '2025-03-31']);
    expect(occurrencesBetween(monthly('2025-01-10', { dayOfMonth: 5 }), '2025-01-01', '2025-03-31')).toEqual(['2025-02-05', '2025-03-05']);
    // Clamped in the start month: Feb 28 2025 is the first "31st" on or after Feb 20.
    expect(occurrencesBetween(monthly('2025-02-20', { dayOfMonth: 31 }), '2025-01-01', '2025-03-31')).toEqual(['2025-02-28', '2025-03-31']);
  });

  it('steps every N months across year boundaries', () => {
    expect(occurrencesBetween({ every: 3, unit: 'month', startDate: '2025-11-30' }, '2025-01-01', '2026-12-31')).toEqual([
      '2025-11-30',
      '2026-02-28',
      '2026-05-30',
      '2026-08-30',
      '2026-11-30',
    ]);
  });
});

describe('occurrencesBetween: weeks', () => {
  it('steps every 2 weeks across a year boundary', () => {
    expect(occurrencesBetween({ every: 2, unit: 'week', startDate: '2025-12-01' }, '2025-12-01', '2026-01-31')).toEqual([
      '2025-12-01',
      '2025-12-15',
      '2025-12-29',
      '2026-01-12',
      '2026-01-26',
    ]);
  });

  it('is not moved by daylight saving changes (dates only)', () => {
    // Europe and the US change clocks in late March and early November.
    expect(occurrencesBetween({ every: 1, unit: 'week', startDate: '2025-03-24' }, '2025-03-24', '2025-04-07')).toEqual(['2025-03-24', '2025-03-31', '2025-04-07']);
    expect(occurrencesBetween({ every: 1, unit: 'week', startDate: '2025-10-27' }, '2025-10-27', '2025-11-10')).toEqual(['2025-10-27', '2025-11-03', '2025-11-10']);
  });

  it('crosses Feb 29', () => {
    expect(occurrencesBetween({ every: 1, unit: 'week', startDate: '2028-02-22' }, '2028-02-01', '2028-03-08')).toEqual(['2028-02-22', '2028-02-29', '2028-03-07']);
  });
});

describe('occurrencesBetween: limits and windows', () => {
  it('stops at count', () => {
    expect(occurrencesBetween(monthly('2025-01-31', { count: 3 }), '2020-01-01', '2030-12-31')).toEqual(['2025-01-31', '2025-02-28', '2025-03-31']);
    expect(occurrencesBetween(monthly('2025-01-31', { count: 3 }), '2025-03-01', '2030-12-31')).toEqual(['2025-03-31']);
    expect(occurrencesBetween(monthly('2025-01-31', { count: 3 }), '2025-04-01', '2030-12-31')).toEqual([]);
  });

  it('stops at endDate, inclusive', () => {
    const schedule: RecurrenceSchedule = { every: 1, unit: 'week', startDate: '2025-01-06', endDate: '2025-01-20' };
    expect(occurrencesBetween(schedule, '2025-01-01', '2025-12-31')).toEqual(['2025-01-06', '2025-01-13', '2025-01-20']);
    expect(occurrencesBetween({ ...schedule, endDate: '2025-01-19' }, '2025-01-01', '2025-12-31')).toEqual(['2025-01-06', '2025-01-13']);
  });

  it('applies whichever of count and endDate comes first', () => {
    expect(occurrencesBetween(monthly('2025-01-15', { count: 2, endDate: '2025-12-31' }), '2025-01-01', '2025-12-31')).toHaveLength(2);
    expect(occurrencesBetween(monthly('2025-01-15', { count: 20, endDate: '2025-03-15' }), '2025-01-01', '2025-12-31')).toHaveLength(3);
  });

  it('returns a window in the middle of the series', () => {
    const schedule = monthly('2020-01-31');
    expect(occurrencesBetween(schedule, '2024-02-01', '2024-04-30')).toEqual(['2024-02-29', '2024-03-31', '2024-04-30']);
    expect(occurrencesBetween(schedule, '2024-02-29', '2024-02-29')).toEqual(['2024-02-29']);
    expect(occurrencesBetween(schedule, '2024-03-01', '2024-03-30')).toEqual([]);
  });

  it('returns nothing before startDate or for an inverted window', () => {
    expect(occurrencesBetween(monthly('2025-06-15'), '2025-01-01', '2025-06-14')).toEqual([]);
    expect(occurrencesBetween(monthly('2025-06-15'), '2025-12-31', '2025-01-01')).toEqual([]);
  });

  it('throws on invalid windows and schedules', () => {
    expect(() => occurrencesBetween(monthly('2025-06-15'), '2025-02-30', '2025-03-01')).toThrow(RangeError);
    expect(() => occurrencesBetween(monthly('2025-06-15'), '2025-01-01', '2025/03/01')).toThrow(RangeError);
    expect(() => occurrencesBetween({ every: 0, unit: 'week', startDate: '2025-01-01' }, '2025-01-01', '2025-03-01')).toThrow(/Invalid schedule/);
  });
});

describe('periodKey', () => {
  it('is the occurrence index', () => {
    const schedule = monthly('2025-01-31');
    expect(periodKey(schedule, '2025-01-31')).toBe('0');
    expect(periodKey(schedule, '2025-02-28')).toBe('1');
    expect(periodKey(schedule, '2025-03-31')).toBe('2');
    expect(periodKey(schedule, '2026-01-31')).toBe('12');
    expect(periodKey({ every: 2, unit: 'week', startDate: '2025-12-01' }, '2026-01-26')).toBe('4');
  });

  it('refuses dates that are not occurrences', () => {
    const schedule = monthly('2025-01-31', { count: 3 });
    expect(() => periodKey(schedule, '2025-02-27')).toThrow(/not an occurrence/);
    expect(() => periodKey(schedule, '2025-03-28')).toThrow(/not an occurrence/);
    expect(() => periodKey(schedule, '2024-12-31')).toThrow(/not an occurrence/);
    expect(() => periodKey(schedule, '2025-04-30')).toThrow(/not an occurrence/); // beyond count
    expect(() => periodKey({ ...schedule, count: undefined, endDate: '2025-02-28' }, '2025-03-31')).toThrow(/not an occurrence/);
  });
});

describe('validateSchedule', () => {
  it('accepts valid schedules', () => {
    expect(validateSchedule({ every: 52, unit: 'week', startDate: '2025-01-01' })).toEqual([]);
    expect(validateSchedule({ every: 24, unit: 'month', startDate: '2024-02-29', dayOfMonth: 31, endDate: '2024-02-29', count: 1 })).toEqual([]);
  });

  it.each<[string, Partial<RecurrenceSchedule> & Record<string, unknown>, string]>([
    ['weeks above 52', { every: 53, unit: 'week' }, 'every'],
    ['months above 24', { every: 25, unit: 'month' }, 'every'],
    ['every 0', { every: 0 }, 'every'],
    ['fractional every', { every: 1.5 }, 'every'],
    ['unknown unit', { unit: 'day' as never }, 'unit'],
    ['Feb 30 start', { startDate: '2025-02-30' }, 'startDate'],
    ['Feb 29 in a non-leap year', { startDate: '2025-02-29' }, 'startDate'],
    ['badly formatted start', { startDate: '2025-1-5' }, 'startDate'],
    ['a timestamp as start', { startDate: '2025-01-05T00:00:00Z' }, 'startDate'],
    ['dayOfMonth 0', { dayOfMonth: 0 }, 'dayOfMonth'],
    ['dayOfMonth 32', { dayOfMonth: 32 }, 'dayOfMonth'],
    ['dayOfMonth on weeks', { unit: 'week', dayOfMonth: 5 }, 'dayOfMonth'],
    ['endDate before startDate', { endDate: '2024-12-31' }, 'endDate'],
    ['invalid endDate', { endDate: '2025-13-01' }, 'endDate'],
    ['count 0', { count: 0 }, 'count'],
    ['fractional count', { count: 2.5 }, 'count'],
  ])('reports %s', (_name, patch, field) => {
    const problems = validateSchedule({ every: 1, unit: 'month', startDate: '2025-01-01', ...patch } as RecurrenceSchedule);
    expect(problems.map((p) => p.field)).toEqual([field]);
  });
});

describe('occurrencesBetween: random schedules', () => {
  // mulberry32: a small seeded PRNG so any failure reproduces.
  const prng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const random = prng(20250131);
  const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
  const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
  const iso = (d: number): string => new Date(d * 86_400_000).toISOString().slice(0, 10);

  /** Independent reference: month-by-month with Date arithmetic, day-by-day for weeks. */
  const reference = (schedule: RecurrenceSchedule, until: string): string[] => {
    const out: string[] = [];
    const limit = Math.min(day(until), schedule.endDate ? day(schedule.endDate) : Infinity);
    const max = schedule.count ?? Infinity;
    if (schedule.unit === 'week') {
      for (let d = day(schedule.startDate); d <= limit && out.length < max; d += 7 * schedule.every) out.push(iso(d));
      return out;
    }
    const [y, m, dd] = schedule.startDate.split('-').map(Number);
    const want = schedule.dayOfMonth ?? dd;
    let month = y * 12 + m - 1;
    let skipped = false;
    for (;;) {
      const last = new Date(Date.UTC(Math.floor(month / 12), (month % 12) + 1, 0)).getUTCDate();
      const d = Date.UTC(Math.floor(month / 12), month % 12, Math.min(want, last)) / 86_400_000;
      if (!skipped && d < day(schedule.startDate)) {
        skipped = true;
        month += 1;
        continue;
      }
      skipped = true;
      if (d > limit || out.length >= max) return out;
      out.push(iso(d));
      month += schedule.every;
    }
  };

  const randomSchedule = (): RecurrenceSchedule => {
    const unit = random() < 0.5 ? 'week' : 'month';
    const startDate = iso(day('2020-01-01') + int(0, 3000));
    const schedule: RecurrenceSchedule = { unit, every: unit === 'week' ? int(1, 52) : int(1, 24), startDate };
    if (unit === 'month' && random() < 0.5) schedule.dayOfMonth = random() < 0.4 ? int(28, 31) : int(1, 31);
    if (unit === 'month' && random() < 0.3) schedule.startDate = `${startDate.slice(0, 8)}${String(int(28, 31)).padStart(2, '0')}`;
    if (validateSchedule(schedule).length > 0) schedule.startDate = startDate; // e.g. "-02-30"
    if (random() < 0.3) schedule.count = int(1, 40);
    if (random() < 0.3) schedule.endDate = iso(day(schedule.startDate) + int(0, 2000));
    return schedule;
  };

  it('matches a reference and concatenates adjacent windows without gaps or duplicates', () => {
    for (let run = 0; run < 500; run += 1) {
      const schedule = randomSchedule();
      expect(validateSchedule(schedule)).toEqual([]);
      const from = iso(day(schedule.startDate) - int(0, 400));
      const to = iso(day(from) + int(0, 4000));
      const whole = occurrencesBetween(schedule, from, to);
      expect(whole).toEqual(reference(schedule, to).filter((d) => d >= from));

      // Split [from, to] at random cut points into adjacent windows.
      const pieces: string[] = [];
      let cursor = day(from);
      while (cursor <= day(to)) {
        const end = Math.min(day(to), cursor + int(0, 120));
        pieces.push(...occurrencesBetween(schedule, iso(cursor), iso(end)));
        cursor = end + 1;
      }
      expect(pieces).toEqual(whole);
      expect(new Set(whole).size).toBe(whole.length);
      expect([...whole].sort()).toEqual(whole);

      // Period keys are the indexes in the full series, the same whichever window found them.
      const all = reference(schedule, to);
      for (const date of whole) expect(periodKey(schedule, date)).toBe(String(all.indexOf(date)));
    }
  });
});
