/**
 * The server's clock as seen from the browser. StreamAlerts compares
 * `since` with the server's record times and refuses one more than a
 * minute ahead, and an office PC's clock may be minutes off, so resume
 * times are taken in server time: the browser's clock plus an offset read
 * from responses' `Date` header.
 */

/** Offsets smaller than this are noise (the header has whole seconds). */
const NOISE_MS = 2_000;

/**
 * The server's clock minus the browser's, from a `Date` header received at
 * browser time `localMs` (0 when within {@link NOISE_MS}); undefined when
 * the header is missing or unreadable.
 */
export function clockOffsetMs(dateHeader: string | null, localMs: number): number | undefined {
  const serverMs = dateHeader ? Date.parse(dateHeader) : NaN;
  if (Number.isNaN(serverMs)) {
    return undefined;
  }
  // The header truncates to the second: the server's time was up to a
  // second later than it says.
  const offset = serverMs + 500 - localMs;
  return Math.abs(offset) < NOISE_MS ? 0 : offset;
}
