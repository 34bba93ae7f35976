/**
 * Times as the people on duty read them: always in Vietnam's time zone,
 * whatever zone the browser (or the wall screen's PC) is set to.
 */

/** The zone every time on the console is shown in. */
export const TIME_ZONE = "Asia/Ho_Chi_Minh";

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

/**
 * `ms` (epoch milliseconds) as "HH:mm:ss dd/MM/yyyy" in Vietnam's time,
 * the same in both languages; e.g. 2026-12-06T17:30:00Z is
 * "00:30:00 07/12/2026".
 */
export function formatDateTime(ms: number): string {
  const part: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const { type, value } of parts.formatToParts(ms)) {
    part[type] = value;
  }
  return `${part.hour}:${part.minute}:${part.second} ${part.day}/${part.month}/${part.year}`;
}
