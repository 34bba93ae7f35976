/**
 * The registry as the pages need it, asked once per session and shared:
 * the zones of the caller's scope (province › communes › villages, from
 * ListZones), their outlines, and the cameras of a zone (ListCameras).
 * ListZones answers for any parent, so the scope is cut here: a commune's
 * police get their commune and its villages, a captain their village.
 */

import type { Client } from "@connectrpc/connect";

import { parseOutline, type Outline } from "./geo";
import type { RegistryService, WhoAmIResponse } from "./gen/vigil/v1/operations_pb";
import { ZoneKind, type Camera, type Zone } from "./gen/vigil/v1/registry_pb";

/** Zone levels as the console groups them. */
export type Level = "province" | "commune" | "village";

export function levelOf(zone: Zone): Level {
  switch (zone.kind) {
    case ZoneKind.PROVINCE:
      return "province";
    case ZoneKind.COMMUNE:
    case ZoneKind.WARD:
      return "commune";
    default:
      return "village";
  }
}

/**
 * The zone's outline as GeoJSON text (`Zone.boundary_geojson`): empty when
 * the registry has none.
 */
export function boundaryText(zone: Zone): string {
  return zone.boundaryGeojson;
}

/** A commune of the scope with its villages. */
export interface CommuneBranch {
  readonly zone: Zone;
  readonly villages: readonly Zone[];
}

/** The caller's scope, from its top zone down to villages. */
export interface ScopeTree {
  readonly scope: Zone;
  readonly communes: readonly CommuneBranch[];
}

/** The calls the directory makes (the session's `Api` has them). */
export interface RegistryCalls {
  readonly registry: Pick<Client<typeof RegistryService>, "listZones" | "listCameras">;
}

/** Calls at once while a tree loads (the browser's per-host limit is 6). */
const PARALLEL = 6;

/** The session's registry lookups. */
export class ZoneDirectory {
  private readonly lists = new Map<string, Promise<Zone[]>>();
  private readonly known = new Map<string, Zone>();
  private readonly outlines = new WeakMap<Zone, Outline | null>();
  private readonly cameraLists = new Map<string, Promise<Camera[]>>();
  private found: Promise<Zone | undefined> | undefined;
  private treeLoad: Promise<ScopeTree | undefined> | undefined;

  constructor(
    private readonly api: RegistryCalls,
    private readonly me: Pick<WhoAmIResponse, "zoneId">,
  ) {}

  /** The zones under `parentId` ("" for the top level), by id. */
  children(parentId: string): Promise<Zone[]> {
    let list = this.lists.get(parentId);
    if (!list) {
      list = this.api.registry.listZones({ parentId }).then((response) => {
        for (const zone of response.zones) {
          this.known.set(zone.id, zone);
        }
        return response.zones;
      });
      // A failure is not kept: the next page asks again.
      list.catch(() => this.lists.delete(parentId));
      this.lists.set(parentId, list);
    }
    return list;
  }

  /** A zone already seen, by id. */
  get(id: string): Zone | undefined {
    return this.known.get(id);
  }

  /** The name of zone `id` when known, else the id. */
  name(id: string): string {
    return this.known.get(id)?.name || id;
  }

  /** The caller's own zone (the top of its scope). */
  scope(): Promise<Zone | undefined> {
    this.found ??= this.find(this.me.zoneId);
    this.found.catch(() => (this.found = undefined));
    return this.found;
  }

  /**
   * Zone `id`, looked up from the top: the province, its communes, then
   * the villages of the commune whose id prefixes it ("th.a.v1" under
   * "th.a"), then of every commune.
   */
  async find(id: string): Promise<Zone | undefined> {
    const seen = this.known.get(id);
    if (seen) {
      return seen;
    }
    const top = await this.children("");
    const hit = top.find((zone) => zone.id === id);
    if (hit) {
      return hit;
    }
    const communes = (await Promise.all(top.map((zone) => this.children(zone.id)))).flat();
    const commune = communes.find((zone) => zone.id === id);
    if (commune) {
      return commune;
    }
    const likely = communes.filter((zone) => id.startsWith(`${zone.id}.`));
    const rest = communes.filter((zone) => !likely.includes(zone));
    for (const group of [likely, rest]) {
      const villages = await mapLimit(group, PARALLEL, (zone) => this.children(zone.id));
      const village = villages.flat().find((zone) => zone.id === id);
      if (village) {
        return village;
      }
    }
    return undefined;
  }

  /** The communes of the scope: all of a province's, a commune itself, none for a village. */
  async communes(): Promise<Zone[]> {
    const scope = await this.scope();
    if (!scope) {
      return [];
    }
    switch (levelOf(scope)) {
      case "province":
        return (await this.children(scope.id)).filter((zone) => levelOf(zone) === "commune");
      case "commune":
        return [scope];
      case "village":
        return [];
    }
  }

  /** The whole scope down to villages (a province: one ListZones per commune). */
  tree(): Promise<ScopeTree | undefined> {
    this.treeLoad ??= this.loadTree();
    this.treeLoad.catch(() => (this.treeLoad = undefined));
    return this.treeLoad;
  }

  private async loadTree(): Promise<ScopeTree | undefined> {
    const scope = await this.scope();
    if (!scope) {
      return undefined;
    }
    const communes = await this.communes();
    const villages = await mapLimit(communes, PARALLEL, (zone) => this.children(zone.id));
    return {
      scope,
      communes: communes.map((zone, i) => ({ zone, villages: villages[i] ?? [] })),
    };
  }

  /** The commune of each village of the scope, by village id. */
  async communeOfVillage(): Promise<Map<string, string>> {
    const tree = await this.tree();
    const map = new Map<string, string>();
    for (const branch of tree?.communes ?? []) {
      for (const village of branch.villages) {
        map.set(village.id, branch.zone.id);
      }
    }
    return map;
  }

  /** The cameras standing in zone `zoneId` or below, by id. */
  cameras(zoneId: string): Promise<Camera[]> {
    let list = this.cameraLists.get(zoneId);
    if (!list) {
      list = this.api.registry.listCameras({ zoneId }).then((response) => response.cameras);
      list.catch(() => this.cameraLists.delete(zoneId));
      this.cameraLists.set(zoneId, list);
    }
    return list;
  }

  /** The zone's outline, or undefined when it has none (or an unreadable one). */
  outline(zone: Zone): Outline | undefined {
    let outline = this.outlines.get(zone);
    if (outline === undefined) {
      const read = parseOutline(boundaryText(zone));
      outline = "outline" in read ? read.outline : null;
      this.outlines.set(zone, outline);
    }
    return outline ?? undefined;
  }
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
