import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  BBoxBuilder,
  Projection,
  bboxOf,
  contains,
  dotsPath,
  nearest,
  outlinePath,
  parseOutline,
  type Outline,
} from "../src/geo";

const square = (lon: number, lat: number, size: number) => [
  [lon, lat],
  [lon + size, lat],
  [lon + size, lat + size],
  [lon, lat + size],
  [lon, lat],
];

function outline(text: string): Outline {
  const read = parseOutline(text);
  assert.ok("outline" in read, JSON.stringify(read));
  return read.outline;
}

describe("zone outlines from GeoJSON", () => {
  it("read a Polygon and a MultiPolygon, [lon, lat]", () => {
    const polygon = outline(JSON.stringify({ type: "Polygon", coordinates: [square(105, 20, 0.1)] }));
    assert.equal(polygon.polygons.length, 1);
    assert.deepEqual(polygon.polygons[0]?.[0]?.[1], [105.1, 20]);
    const multi = outline(
      JSON.stringify({ type: "MultiPolygon", coordinates: [[square(105, 20, 0.1)], [square(106, 21, 0.1)]] }),
    );
    assert.equal(multi.polygons.length, 2);
  });

  it("accept a Feature around the geometry and close an open ring", () => {
    const open = square(105, 20, 0.1).slice(0, 4);
    const read = outline(JSON.stringify({ type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [open] } }));
    const ring = read.polygons[0]?.[0] ?? [];
    assert.equal(ring.length, 5);
    assert.deepEqual(ring[0], ring[4]);
  });

  it("refuse what is not a polygon on the globe", () => {
    const problem = (text: string) => {
      const read = parseOutline(text);
      return "problem" in read ? read.problem : "read";
    };
    assert.equal(problem(""), "empty");
    assert.equal(problem("{"), "syntax");
    assert.equal(problem(JSON.stringify({ type: "Point", coordinates: [105, 20] })), "type");
    assert.equal(problem(JSON.stringify({ type: "Polygon" })), "type");
    assert.equal(problem("[1,2]"), "type");
    assert.equal(problem(JSON.stringify({ type: "Polygon", coordinates: [] })), "coordinates");
    assert.equal(problem(JSON.stringify({ type: "Polygon", coordinates: [[[105, 20], [105.1, 20], [105, 20]]] })), "coordinates");
    assert.equal(problem(JSON.stringify({ type: "Polygon", coordinates: [square(185, 20, 0.1)] })), "coordinates");
    assert.equal(problem(JSON.stringify({ type: "Polygon", coordinates: [square(105, 95, 0.1)] })), "coordinates");
    assert.equal(problem(JSON.stringify({ type: "Polygon", coordinates: [[["105", 20], [105.1, 20], [105.1, 20.1], ["105", 20]]] })), "coordinates");
    assert.equal(problem(JSON.stringify({ type: "MultiPolygon", coordinates: [[square(105, 20, 0.1)], "x"] })), "coordinates");
  });

  it("refuse an outline over the limits", () => {
    const text = JSON.stringify({ type: "Polygon", coordinates: [square(105, 20, 0.1)] });
    const tooMany = parseOutline(text, { maxChars: 10_000, maxPositions: 4 });
    assert.deepEqual(tooMany, { problem: "too_large" });
    assert.deepEqual(parseOutline(text, { maxChars: 10, maxPositions: 100 }), { problem: "too_large" });
    assert.ok("outline" in parseOutline(text, { maxChars: 10_000, maxPositions: 5 }));
  });
});

describe("boxes and the projection", () => {
  it("bound outer rings and points, ignoring what is off the globe", () => {
    const o = outline(JSON.stringify({ type: "Polygon", coordinates: [square(105, 20, 0.5)] }));
    assert.deepEqual(bboxOf(o), { minLon: 105, minLat: 20, maxLon: 105.5, maxLat: 20.5 });
    const box = new BBoxBuilder().outline(o).point(106, 19).point(NaN, 1).point(200, 10).bbox;
    assert.deepEqual(box, { minLon: 105, minLat: 19, maxLon: 106, maxLat: 20.5 });
    assert.equal(new BBoxBuilder().bbox, undefined);
  });

  it("keeps shapes: a degree of longitude is cos(lat) of a degree of latitude", () => {
    const p = new Projection({ minLon: 105, minLat: 19.5, maxLon: 106, maxLat: 20.5 }, 1000, 0);
    const east = p.x(105.1) - p.x(105);
    const north = p.y(20) - p.y(20.1);
    assert.ok(Math.abs(east / north - Math.cos((20 * Math.PI) / 180)) < 1e-9);
    // North is up, and the box fits the height (taller than wide here).
    assert.ok(p.y(20.5) < p.y(19.5));
    assert.ok(Math.abs(p.y(20.5) - 0) < 1 && Math.abs(p.y(19.5) - p.height) < 1);
    const [lon, lat] = p.invert(p.x(105.3), p.y(20.2));
    assert.ok(Math.abs(lon - 105.3) < 1e-9 && Math.abs(lat - 20.2) < 1e-9);
  });

  it("fits a wide box to the width, centred", () => {
    const p = new Projection({ minLon: 104, minLat: 20, maxLon: 106, maxLat: 20.2 }, 1000, 20);
    assert.ok(Math.abs(p.x(104) - 20) < 1e-6 && Math.abs(p.x(106) - 980) < 1e-6);
    assert.equal(p.width, 1000);
    assert.ok(p.height >= 200);
    assert.ok(Math.abs((p.y(20) + p.y(20.2)) / 2 - p.height / 2) < 1e-6);
  });

  it("gives a single point some room", () => {
    const p = new Projection({ minLon: 105, minLat: 20, maxLon: 105, maxLat: 20 });
    assert.ok(Number.isFinite(p.x(105)) && Math.abs(p.x(105) - 500) < 1e-6);
  });
});

describe("drawing", () => {
  it("writes one closed subpath per ring, without repeated points", () => {
    const o = outline(
      JSON.stringify({ type: "Polygon", coordinates: [square(0, 0, 10), [[2, 2], [2, 2], [4, 2], [4, 4], [2, 2]]] }),
    );
    const p = new Projection({ minLon: 0, minLat: 0, maxLon: 10, maxLat: 10 }, 120, 10, 0, 120);
    const d = outlinePath(o, p);
    assert.equal(d.match(/M/g)?.length, 2);
    assert.equal(d.match(/Z/g)?.length, 2);
    assert.match(d, /^M10\.\d 110L109\.\d 110L109\.\d 10L10\.\d 10Z/);
    assert.ok(!/L(\S+ \S+)L\1/.test(d));
  });

  it("draws dots as small squares, or circles", () => {
    assert.equal(dotsPath([[1.23, 4.56], [7, 8]], 2, "square"), "M0.2 3.6h2v2h-2zM6 7h2v2h-2z");
    assert.equal(dotsPath([[10, 10]], 4, "round"), "M8 10a2 2 0 1 0 4 0a2 2 0 1 0-4 0");
    assert.equal(dotsPath([], 3, "square"), "");
  });

  it("tells inside from outside, holes included", () => {
    const o = outline(
      JSON.stringify({ type: "Polygon", coordinates: [square(0, 0, 10), square(4, 4, 2)] }),
    );
    assert.ok(contains(o, [1, 1]));
    assert.ok(!contains(o, [5, 5]), "in the hole");
    assert.ok(!contains(o, [11, 5]));
    const multi = outline(JSON.stringify({ type: "MultiPolygon", coordinates: [[square(0, 0, 1)], [square(5, 5, 1)]] }));
    assert.ok(contains(multi, [5.5, 5.5]) && !contains(multi, [3, 3]));
  });

  it("finds the nearest point within a radius", () => {
    const xs = [0, 10, 20];
    const ys = [0, 0, 0];
    assert.equal(nearest(xs, ys, 9, 1, 5), 1);
    assert.equal(nearest(xs, ys, 15.5, 0, 3), -1);
    assert.equal(nearest([], [], 0, 0, 5), -1);
  });
});
