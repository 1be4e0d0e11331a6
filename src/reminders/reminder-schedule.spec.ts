import { dueStage, isValidTimeZone, localClock, normaliseStages, stageMoment, zonedInstant, type ReminderSchedule } from './reminder-schedule.js';

const utc: ReminderSchedule = { stages: [-3, 0, 7, 14], sendHour: 9, timeZone: 'UTC' };
const berlin: ReminderSchedule = { ...utc, timeZone: 'Europe/Berlin' };
const finalizedLongAgo = new Date('2026-01-01T00:00:00Z');

describe('business-local clock', () => {
  it.each([
    ['2026-11-20T07:59:00Z', 'Europe/Berlin', '2026-11-20', 8],
    ['2026-11-20T08:00:00Z', 'Europe/Berlin', '2026-11-20', 9],
    ['2026-07-20T07:00:00Z', 'Europe/Berlin', '2026-07-20', 9],
    ['2026-11-20T23:30:00Z', 'Asia/Kolkata', '2026-11-21', 5],
    ['2026-11-20T03:00:00Z', 'America/Los_Angeles', '2026-11-19', 19],
    ['2026-11-20T12:00:00Z', 'Pacific/Kiritimati', '2026-11-21', 2],
  ])('%s in %s is %s, hour %i', (instant, timeZone, date, hour) => {
    expect(localClock(new Date(instant), timeZone)).toMatchObject({ date, hour });
  });

  it.each([
    ['2026-11-20', 9, 'Europe/Berlin', '2026-11-20T08:00:00.000Z'],
    ['2026-07-20', 9, 'Europe/Berlin', '2026-07-20T07:00:00.000Z'],
    ['2026-11-20', 9, 'Asia/Kathmandu', '2026-11-20T03:15:00.000Z'],
    ['2026-11-20', 0, 'America/New_York', '2026-11-20T05:00:00.000Z'],
    ['2026-11-20', 9, 'UTC', '2026-11-20T09:00:00.000Z'],
  ])('%s at %i:00 in %s is %s', (date, hour, timeZone, instant) => {
    expect(zonedInstant(date, hour, timeZone).toISOString()).toBe(instant);
  });

  it('handles daylight saving: a missing hour moves later, a repeated hour takes the first', () => {
    // Berlin springs forward 2026-03-29 02:00 → 03:00; falls back 2026-10-25 03:00 → 02:00.
    expect(zonedInstant('2026-03-29', 2, 'Europe/Berlin').toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(localClock(zonedInstant('2026-03-29', 2, 'Europe/Berlin'), 'Europe/Berlin').hour).toBe(3);
    expect(zonedInstant('2026-10-25', 2, 'Europe/Berlin').toISOString()).toBe('2026-10-25T00:00:00.000Z');
    expect(zonedInstant('2026-03-29', 9, 'Europe/Berlin').toISOString()).toBe('2026-03-29T07:00:00.000Z');
  });

  it('knows real IANA zones and nothing else', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    for (const zone of ['Mars/Olympus', '', 'Europe/Berlin; DROP TABLE x', 42, null, 'x'.repeat(65)]) expect(isValidTimeZone(zone)).toBe(false);
  });
});

describe('reminder stages', () => {
  it('normalises stages: sorted, bounded, no repeats', () => {
    expect(normaliseStages([14, -3, 7, 0])).toEqual({ stages: [-3, 0, 7, 14], problems: [] });
    expect(normaliseStages([]).problems).not.toEqual([]);
    expect(normaliseStages([1, 1]).problems).toContain('stages must not repeat');
    expect(normaliseStages([1.5]).problems).not.toEqual([]);
    expect(normaliseStages([-61]).problems).not.toEqual([]);
    expect(normaliseStages([366]).problems).not.toEqual([]);
    expect(normaliseStages([1, 2, 3, 4, 5, 6, 7, 8, 9]).problems).not.toEqual([]);
    expect(normaliseStages('7').problems).not.toEqual([]);
  });

  const invoice = { dueDate: '2026-11-20', finalizedAt: finalizedLongAgo };

  it.each([
    ['2026-11-16T12:00:00Z', undefined],
    ['2026-11-17T08:59:00Z', undefined],
    ['2026-11-17T09:00:00Z', -3],
    ['2026-11-19T23:00:00Z', -3],
    ['2026-11-20T09:00:00Z', 0],
    ['2026-11-22T10:00:00Z', 0],
    ['2026-11-23T23:00:00Z', 0],
    ['2026-11-27T08:00:00Z', undefined],
    ['2026-11-27T09:30:00Z', 7],
    ['2026-12-04T10:00:00Z', 14],
    ['2026-12-07T10:00:00Z', 14],
    ['2026-12-08T10:00:00Z', undefined],
  ])('at %s the due stage is %s (UTC, 09:00)', (now, stage) => {
    expect(dueStage(utc, invoice, new Date(now))).toBe(stage);
  });

  it('uses the business-local send hour', () => {
    // 09:00 in Berlin is 08:00 UTC in November.
    expect(dueStage(berlin, invoice, new Date('2026-11-20T07:59:00Z'))).toBe(-3);
    expect(dueStage(berlin, invoice, new Date('2026-11-20T08:00:00Z'))).toBe(0);
    expect(dueStage({ ...utc, timeZone: 'Pacific/Auckland' }, invoice, new Date('2026-11-19T20:00:00Z'))).toBe(0);
  });

  it('skips a stage whose moment came before the invoice was final, and drafts', () => {
    const lateInvoice = { dueDate: '2026-11-20', finalizedAt: new Date('2026-11-18T15:00:00Z') };
    expect(dueStage(utc, lateInvoice, new Date('2026-11-19T12:00:00Z'))).toBeUndefined();
    expect(dueStage(utc, lateInvoice, new Date('2026-11-20T09:00:00Z'))).toBe(0);
    expect(dueStage(utc, { dueDate: '2026-11-20', finalizedAt: null }, new Date('2026-11-20T12:00:00Z'))).toBeUndefined();
  });

  it('follows a custom schedule', () => {
    const schedule: ReminderSchedule = { stages: [1, 30], sendHour: 0, timeZone: 'UTC' };
    expect(dueStage(schedule, invoice, new Date('2026-11-20T23:00:00Z'))).toBeUndefined();
    expect(dueStage(schedule, invoice, new Date('2026-11-21T00:00:00Z'))).toBe(1);
    expect(dueStage(schedule, invoice, new Date('2026-12-20T00:00:00Z'))).toBe(30);
  });

  it('gives each stage its moment', () => {
    expect(stageMoment(berlin, '2026-11-20', -3).toISOString()).toBe('2026-11-17T08:00:00.000Z');
    expect(stageMoment(utc, '2026-11-20', 14).toISOString()).toBe('2026-12-04T09:00:00.000Z');
  });
});
