/**
 * Times as the people on duty read them: always in Vietnam's time zone,
 * whatever zone the browser (or the wall screen's PC) is set to. The
 * form inputs (`<input type="datetime-local">`) are read and filled in
 * that zone too.
 */

/** The zone every time on the console is shown in. */
export const TIME_ZONE = "Asia/Ho_Chi_Minh";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

const parts = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  // Not hour12: false, which some engines render as "24:30" after midnight.
  hourCycle: "h23",
});

/** The wall clock in Vietnam at `ms`, as two-digit strings (year: four). */
interface Wall {
  readonly year: string;
  readonly month: string;
  readonly day: string;
  readonly hour: string;
  readonly minute: string;
  readonly second: string;
}

function wall(ms: number): Wall {
  const part: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const { type, value } of parts.formatToParts(ms)) {
    part[type] = value;
  }
  return {
    year: part.year ?? "",
    month: part.month ?? "",
    day: part.day ?? "",
    hour: part.hour ?? "",
    minute: part.minute ?? "",
    second: part.second ?? "",
  };
}

/**
 * `ms` (epoch milliseconds) as "HH:mm:ss dd/MM/yyyy" in Vietnam's time,
 * the same in both languages; e.g. 2026-12-06T17:30:00Z is
 * "00:30:00 07/12/2026".
 */
export function formatDateTime(ms: number): string {
  const w = wall(ms);
  return `${w.hour}:${w.minute}:${w.second} ${w.day}/${w.month}/${w.year}`;
}

/** "HH:mm dd/MM" in Vietnam's time, for axes and short lists. */
export function formatShort(ms: number): string {
  const w = wall(ms);
  return `${w.hour}:${w.minute} ${w.day}/${w.month}`;
}

/** "HH:mm" in Vietnam's time. */
export function formatClock(ms: number): string {
  const w = wall(ms);
  return `${w.hour}:${w.minute}`;
}

/** "dd/MM" in Vietnam's time. */
export function formatDay(ms: number): string {
  const w = wall(ms);
  return `${w.day}/${w.month}`;
}

/** Vietnam's offset from UTC at `ms`, in milliseconds (+7 h). */
export function zoneOffsetMs(ms: number): number {
  const w = wall(ms);
  const asUtc = Date.UTC(+w.year, +w.month - 1, +w.day, +w.hour, +w.minute, +w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * `ms` as the value of a `datetime-local` input in Vietnam's time,
 * "yyyy-MM-ddTHH:mm" (to the minute, rounded down).
 */
export function toLocalInput(ms: number): string {
  const w = wall(ms);
  return `${w.year}-${w.month}-${w.day}T${w.hour}:${w.minute}`;
}

/**
 * A `datetime-local` value ("yyyy-MM-ddTHH:mm", seconds optional) read as
 * Vietnam's time, in epoch ms; undefined when it is not such a value.
 */
export function fromLocalInput(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(value.trim());
  if (!m) {
    return undefined;
  }
  const [year, month, day, hour, minute, second] = m.slice(1).map((n) => Number(n ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  const guess = asUtc - zoneOffsetMs(asUtc);
  const ms = asUtc - zoneOffsetMs(guess);
  // 31/02 and the like roll over: refuse them rather than move the day.
  return toLocalInput(ms).slice(0, 10) === value.slice(0, 10) ? ms : undefined;
}

/** The start of the hour containing `ms` (Vietnam's hours are UTC's). */
export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** `ms` rounded up to the next whole minute (itself when whole). */
export function ceilMinute(ms: number): number {
  return Math.ceil(ms / MINUTE_MS) * MINUTE_MS;
}

/** A span of time in whole hours and minutes, e.g. { hours: 2, minutes: 5 }. */
export function hoursMinutes(ms: number): { hours: number; minutes: number } {
  const minutes = Math.max(0, Math.round(ms / MINUTE_MS));
  return { hours: Math.floor(minutes / 60), minutes: minutes % 60 };
}
