/**
 * Coverage in words, without the DOM: which cameras of a search's zone
 * were offline (and when) or silent over its window, so an empty or thin
 * result can say whether nothing happened or nobody was watching.
 */

import { timestampMs } from "@bufbuild/protobuf/wkt";

import type { CoverageResponse, TimeWindow } from "./gen/vigil/v1/query_pb";
import { translate, type Lang } from "./i18n";
import { coverageName, type CoverageName } from "./names";
import { formatShort, hoursMinutes } from "./time";

/** A stretch of time, epoch ms, end exclusive. */
export interface Period {
  readonly startMs: number;
  readonly endMs: number;
}

/** One camera's coverage of the window. */
export interface CameraSpot {
  readonly cameraId: string;
  readonly villageId: string;
  readonly state: CoverageName;
  readonly events: number;
  /** When it was offline, oldest first (empty unless offline). */
  readonly offline: readonly Period[];
}

/** The cameras of a zone by how they watched a window. */
export interface BlindSpots {
  /** Cameras considered (the zone's, or those the search named). */
  readonly cameras: number;
  readonly offline: readonly CameraSpot[];
  readonly silent: readonly CameraSpot[];
  /** Never heard from: nothing is known. */
  readonly unknown: readonly CameraSpot[];
}

/** Fewer events than this (and no further page) make a result thin. */
export const THIN_RESULT = 10;

/** Whether a search that found `found` events (and `more` to page) should explain its coverage. */
export function isThin(found: number, more: boolean): boolean {
  return !more && found < THIN_RESULT;
}

/** The periods of `windows` in ms, oldest first. */
export function periodsOf(windows: readonly TimeWindow[]): Period[] {
  return windows
    .map((w) => ({ startMs: w.start ? timestampMs(w.start) : 0, endMs: w.end ? timestampMs(w.end) : 0 }))
    .filter((p) => p.endMs > p.startMs)
    .sort((a, b) => a.startMs - b.startMs);
}

/** Every camera of `coverage`, by id. */
export function spotsById(coverage: CoverageResponse): Map<string, CameraSpot> {
  const spots = new Map<string, CameraSpot>();
  for (const camera of coverage.cameras) {
    spots.set(camera.cameraId, {
      cameraId: camera.cameraId,
      villageId: camera.villageId,
      state: coverageName(camera.state),
      events: Number(camera.events),
      offline: periodsOf(camera.offline),
    });
  }
  return spots;
}

/**
 * The blind spots of `coverage`: its offline, silent and unknown cameras,
 * by id, limited to `onlyCameras` when the search named cameras.
 */
export function blindSpots(coverage: CoverageResponse, onlyCameras: readonly string[] = []): BlindSpots {
  const wanted = new Set(onlyCameras);
  const spots = [...spotsById(coverage).values()]
    .filter((spot) => wanted.size === 0 || wanted.has(spot.cameraId))
    .sort((a, b) => a.cameraId.localeCompare(b.cameraId));
  return {
    cameras: spots.length,
    offline: spots.filter((spot) => spot.state === "offline"),
    silent: spots.filter((spot) => spot.state === "silent"),
    unknown: spots.filter((spot) => spot.state === "unknown"),
  };
}

/** A camera and what it did, e.g. "cam-01" and "offline 10:00 … (45 min)". */
export interface CameraLine {
  readonly cameraId: string;
  readonly text: string;
}

/** The explanation of a thin result, in words. */
export interface CoverageMessage {
  /** What the result means, e.g. "No events. 2 of 12 cameras were offline…". */
  readonly heading: string;
  /** One line per offline camera: its id and when it was offline. */
  readonly offline: readonly CameraLine[];
  /** One line per silent camera. */
  readonly silent: readonly CameraLine[];
  /** One line per camera never heard from. */
  readonly unknown: readonly CameraLine[];
}

/** A period as "HH:mm dd/MM → HH:mm dd/MM (2 h 5 min)". */
export function describePeriod(lang: Lang, period: Period): string {
  const { hours, minutes } = hoursMinutes(period.endMs - period.startMs);
  const span =
    hours === 0
      ? translate(lang, "duration.minutes", { m: minutes })
      : minutes === 0
        ? translate(lang, "duration.hours", { h: hours })
        : translate(lang, "duration.hoursMinutes", { h: hours, m: minutes });
  return `${formatShort(period.startMs)} → ${formatShort(period.endMs)} (${span})`;
}

/**
 * The message for a search that found `found` events where `spots` were
 * the cameras' coverage (`found` 0: an empty result).
 */
export function coverageMessage(lang: Lang, spots: BlindSpots, found: number): CoverageMessage {
  const t = (key: Parameters<typeof translate>[1], vars?: Record<string, string | number>) =>
    translate(lang, key, vars);
  const result = found === 0 ? t("coverage.none") : t("coverage.thin", { n: found });
  const blind = spots.offline.length + spots.silent.length + spots.unknown.length;
  const heading =
    spots.cameras === 0
      ? `${result} ${t("coverage.noCameras")}`
      : blind === 0
        ? `${result} ${t("coverage.allCovered", { n: spots.cameras })}`
        : `${result} ${t("coverage.blind", { n: spots.cameras })} ${[
            spots.offline.length && t("coverage.blindOffline", { n: spots.offline.length }),
            spots.silent.length && t("coverage.blindSilent", { n: spots.silent.length }),
            spots.unknown.length && t("coverage.blindUnknown", { n: spots.unknown.length }),
          ]
            .filter(Boolean)
            .join(", ")}.`;
  return {
    heading,
    offline: spots.offline.map((spot) => {
      const periods = spot.offline.map((period) => describePeriod(lang, period)).join("; ");
      return { cameraId: spot.cameraId, text: `${t("coverage.offlineFor")} ${periods || t("coverage.wholeWindow")}` };
    }),
    silent: spots.silent.map((spot) => ({ cameraId: spot.cameraId, text: t("coverage.silentLine") })),
    unknown: spots.unknown.map((spot) => ({ cameraId: spot.cameraId, text: t("coverage.unknownLine") })),
  };
}
