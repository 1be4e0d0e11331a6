/**
 * Payment reminders as pure rules: stages, the business-local hour and which stage is due.
 *
 * A stage is a whole number of days relative to the invoice's due date (-3 = three days
 * before, 0 = on it, 7 = a week after). Its moment is `sendHour` o'clock, business-local time,
 * on `dueDate + stage`. At any time the due stage of an invoice is the latest stage whose moment
 * has passed, provided that
 *  - the moment is at most CATCH_UP_DAYS old (after downtime the reminder still goes, late, but
 *    an invoice that only now became eligible is not sent a stale one), and
 *  - the invoice was already final at that moment (no "due in 3 days" for an invoice finalised
 *    the day before it is due: its own email has just told the customer).
 * Earlier stages that were missed are skipped, never sent late after a later one.
 */
import { addDays } from '../common/dates.js';

export const DEFAULT_STAGES: readonly number[] = [-3, 0, 7, 14];
export const DEFAULT_SEND_HOUR = 9;
export const MIN_STAGE = -60;
export const MAX_STAGE = 365;
export const MAX_STAGES = 8;
/** How late a missed reminder may still go out (downtime, a queue outage). */
export const CATCH_UP_DAYS = 3;
/** GET /v1/reminders/upcoming looks this far ahead. */
export const UPCOMING_DAYS = 30;

export interface ReminderSchedule {
  stages: readonly number[];
  sendHour: number;
  timeZone: string;
}

/** True for an IANA time zone this runtime knows ("Europe/Berlin", "UTC"). */
export function isValidTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, format);
  }
  return format;
}

/** The wall-clock date ("YYYY-MM-DD") and hour (0–23) at `now` in `timeZone`. */
export function localClock(now: Date, timeZone: string): { date: string; hour: number; minute: number } {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(now)) parts[part.type] = part.value;
  return { date: `${parts.year.padStart(4, '0')}-${parts.month}-${parts.day}`, hour: Number(parts.hour) % 24, minute: Number(parts.minute) };
}

/** Local time minus UTC at `instant`, in milliseconds (+3 600 000 for Berlin in winter). */
function offsetMs(instant: number, timeZone: string): number {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) parts[part.type] = part.value;
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour) % 24, Number(parts.minute), Number(parts.second));
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant at which it is `hour`:00 on `date` in `timeZone`. When that wall time does not
 * exist (the spring-forward gap) it is the instant one hour later on the clock; when it exists
 * twice (fall back) it is the first.
 */
export function zonedInstant(date: string, hour: number, timeZone: string): Date {
  const [year, month, day] = date.split('-').map(Number);
  const wall = Date.UTC(year, month - 1, day, hour);
  // The offsets half a day either side bracket any transition on that day.
  const before = wall - offsetMs(wall - 12 * 3_600_000, timeZone);
  const after = wall - offsetMs(wall + 12 * 3_600_000, timeZone);
  const earlier = Math.min(before, after);
  const later = Math.max(before, after);
  for (const candidate of [earlier, later]) if (localClock(new Date(candidate), timeZone).hour === hour) return new Date(candidate);
  return new Date(later);
}

/** Sorted, de-duplicated stages within bounds, or the problems with them. */
export function normaliseStages(stages: unknown): { stages: number[]; problems: string[] } {
  const problems: string[] = [];
  if (!Array.isArray(stages) || stages.length === 0) return { stages: [], problems: ['stages must be a non-empty list of day offsets'] };
  if (stages.length > MAX_STAGES) problems.push(`stages holds at most ${MAX_STAGES} entries`);
  for (const stage of stages) {
    if (!Number.isInteger(stage) || stage < MIN_STAGE || stage > MAX_STAGE) problems.push(`each stage is a whole number of days from ${MIN_STAGE} to ${MAX_STAGE}`);
  }
  const unique = [...new Set(stages as number[])].sort((a, b) => a - b);
  if (unique.length !== stages.length) problems.push('stages must not repeat');
  return { stages: unique, problems: [...new Set(problems)] };
}

/** The stage due now for an invoice (see the file comment), or undefined. */
export function dueStage(schedule: ReminderSchedule, invoice: { dueDate: string; finalizedAt: Date | null }, now: Date): number | undefined {
  if (!invoice.finalizedAt) return undefined;
  const local = localClock(now, schedule.timeZone);
  let latest: number | undefined;
  for (const stage of schedule.stages) {
    const date = addDays(invoice.dueDate, stage);
    const passed = date < local.date || (date === local.date && local.hour >= schedule.sendHour);
    if (passed && (latest === undefined || stage > latest)) latest = stage;
  }
  if (latest === undefined) return undefined;
  const date = addDays(invoice.dueDate, latest);
  if (addDays(date, CATCH_UP_DAYS) < local.date) return undefined;
  if (zonedInstant(date, schedule.sendHour, schedule.timeZone).getTime() <= invoice.finalizedAt.getTime()) return undefined;
  return latest;
}

/** The moment a stage of an invoice is sent (business-local send hour on due date + stage). */
export function stageMoment(schedule: ReminderSchedule, dueDate: string, stage: number): Date {
  return zonedInstant(addDays(dueDate, stage), schedule.sendHour, schedule.timeZone);
}
