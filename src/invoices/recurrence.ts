/**
 * Recurring invoice schedules on the UTC calendar (dates only, "YYYY-MM-DD": no times, no time
 * zones, so daylight saving never moves an occurrence).
 *
 * Occurrence k is computed from the anchor, never from occurrence k-1: a monthly schedule on the
 * 31st gives Jan 31, Feb 28, Mar 31 (not Mar 28), and the index k is a stable period key for the
 * unique (template, period) constraint that stops an invoice being generated twice.
 */

export type RecurrenceUnit = 'week' | 'month';

export interface RecurrenceSchedule {
  /** 1–52 for weeks, 1–24 for months. */
  every: number;
  unit: RecurrenceUnit;
  /** YYYY-MM-DD. No occurrence is earlier than this date. */
  startDate: string;
  /** Months only, 1–31, clamped to the month's last day; defaults to startDate's day. */
  dayOfMonth?: number;
  /** YYYY-MM-DD, inclusive. */
  endDate?: string;
  /** Total number of occurrences from the first one. */
  count?: number;
}

export interface ScheduleProblem {
  field: keyof RecurrenceSchedule;
  message: string;
}

const MAX_EVERY: Record<RecurrenceUnit, number> = { week: 52, month: 24 };
const MS_PER_DAY = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 for a real calendar date, or undefined. */
function toDay(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = ISO_DATE.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month - 1)) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // Date.UTC would map years 0–99 to 1900–1999.
  return date.getTime() / MS_PER_DAY;
}

function fromDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** month0: 0-based month. */
function daysInMonth(year: number, month0: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month0 + 1, 0);
  return date.getUTCDate();
}

function dayFromMonthIndex(monthIndex: number, dayOfMonth: number): number {
  const year = Math.floor(monthIndex / 12);
  const month0 = monthIndex % 12;
  const date = new Date(0);
  date.setUTCFullYear(year, month0, Math.min(dayOfMonth, daysInMonth(year, month0)));
  return date.getTime() / MS_PER_DAY;
}

export function validateSchedule(schedule: RecurrenceSchedule): ScheduleProblem[] {
  const problems: ScheduleProblem[] = [];
  const s = (schedule ?? {}) as Partial<RecurrenceSchedule>;
  const unitOk = s.unit === 'week' || s.unit === 'month';
  if (!unitOk) problems.push({ field: 'unit', message: 'unit must be "week" or "month".' });
  if (!Number.isInteger(s.every) || (s.every as number) < 1 || (unitOk && (s.every as number) > MAX_EVERY[s.unit as RecurrenceUnit])) {
    problems.push({ field: 'every', message: `every must be a whole number from 1 to ${unitOk ? MAX_EVERY[s.unit as RecurrenceUnit] : '52 (weeks) or 24 (months)'}.` });
  }
  const start = toDay(s.startDate);
  if (start === undefined) problems.push({ field: 'startDate', message: 'startDate must be a real date as YYYY-MM-DD.' });
  if (s.dayOfMonth !== undefined) {
    if (s.unit !== 'month') problems.push({ field: 'dayOfMonth', message: 'dayOfMonth applies to monthly schedules only.' });
    else if (!Number.isInteger(s.dayOfMonth) || s.dayOfMonth < 1 || s.dayOfMonth > 31) {
      problems.push({ field: 'dayOfMonth', message: 'dayOfMonth must be a whole number from 1 to 31.' });
    }
  }
  if (s.endDate !== undefined) {
    const end = toDay(s.endDate);
    if (end === undefined) problems.push({ field: 'endDate', message: 'endDate must be a real date as YYYY-MM-DD.' });
    else if (start !== undefined && end < start) problems.push({ field: 'endDate', message: 'endDate is before startDate.' });
  }
  if (s.count !== undefined && (!Number.isSafeInteger(s.count) || s.count < 1)) {
    problems.push({ field: 'count', message: 'count must be a whole number of at least 1.' });
  }
  return problems;
}

interface Series {
  /** Day number of occurrence k, ignoring endDate and count. */
  at(k: number): number;
  /** Smallest k whose occurrence is on or after `day` (possibly a little too small: callers step on). */
  lowerBound(day: number): number;
  /** Number of occurrences, after count and endDate (Infinity when open-ended). */
  size: number;
  end: number;
}

function series(schedule: RecurrenceSchedule): Series {
  const problems = validateSchedule(schedule);
  if (problems.length > 0) throw new RangeError(`Invalid schedule: ${problems.map((p) => p.message).join(' ')}`);
  const start = toDay(schedule.startDate) as number;
  const end = schedule.endDate === undefined ? Number.POSITIVE_INFINITY : (toDay(schedule.endDate) as number);
  const size = schedule.count ?? Number.POSITIVE_INFINITY;
  if (schedule.unit === 'week') {
    const step = 7 * schedule.every;
    return { at: (k) => start + k * step, lowerBound: (day) => Math.max(0, Math.ceil((day - start) / step)), size, end };
  }
  const startDate = new Date(start * MS_PER_DAY);
  const dayOfMonth = schedule.dayOfMonth ?? startDate.getUTCDate();
  // The first occurrence is the first pattern date on or after startDate: when dayOfMonth has
  // already passed in the start month, the series is anchored on the next month.
  let anchor = startDate.getUTCFullYear() * 12 + startDate.getUTCMonth();
  if (dayFromMonthIndex(anchor, dayOfMonth) < start) anchor += 1;
  const at = (k: number): number => dayFromMonthIndex(anchor + k * schedule.every, dayOfMonth);
  const lowerBound = (day: number): number => {
    const date = new Date(day * MS_PER_DAY);
    const monthIndex = date.getUTCFullYear() * 12 + date.getUTCMonth();
    return Math.max(0, Math.floor((monthIndex - anchor) / schedule.every));
  };
  return { at, lowerBound, size, end };
}

function requireDay(value: string, name: string): number {
  const day = toDay(value);
  if (day === undefined) throw new RangeError(`${name} must be a real date as YYYY-MM-DD.`);
  return day;
}

/** Occurrences in [from, to], both inclusive, in order. Throws on an invalid schedule or date. */
export function occurrencesBetween(schedule: RecurrenceSchedule, from: string, to: string): string[] {
  const s = series(schedule);
  const first = requireDay(from, 'from');
  const last = Math.min(requireDay(to, 'to'), s.end);
  const out: string[] = [];
  for (let k = s.lowerBound(first); k < s.size; k += 1) {
    const day = s.at(k);
    if (day > last) break;
    if (day >= first) out.push(fromDay(day));
  }
  return out;
}

/**
 * The occurrence index of `date` as a string ("0" for the first occurrence). Throws when the
 * date is not an occurrence of the schedule, so a wrong date can never claim a period.
 * The key is stable for as long as the schedule's startDate, unit, every and dayOfMonth are.
 */
export function periodKey(schedule: RecurrenceSchedule, date: string): string {
  const s = series(schedule);
  const day = requireDay(date, 'date');
  if (day <= s.end) {
    for (let k = s.lowerBound(day); k < s.size; k += 1) {
      const at = s.at(k);
      if (at === day) return String(k);
      if (at > day) break;
    }
  }
  throw new RangeError(`${date} is not an occurrence of this schedule.`);
}
