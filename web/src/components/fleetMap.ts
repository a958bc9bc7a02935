// The map's arithmetic, kept apart from ECharts so it can be tested:
// which country outlines to draw around the fleet, and which assets are
// close enough on screen to be drawn as one marker.
import type { Feature, FeatureCollection, Geometry, Position } from 'geojson'

export interface MapPoint {
  id: string
  name: string
  lon: number
  lat: number
  status: string
  capacityKw: number
}

export interface Cluster {
  lon: number
  lat: number
  /** The worst status among the members. */
  status: string
  capacityKw: number
  members: MapPoint[]
}

/** Worse first: one faulty asset colours its cluster. */
const SEVERITY = ['ERROR', 'OFFLINE', 'MAINTENANCE', 'ONLINE']
const rank = (s: string) => {
  const i = SEVERITY.indexOf(s)
  return i < 0 ? SEVERITY.length : i
}

/**
 * Greedy clustering in screen space: the largest assets seed clusters, and
 * an asset within `radiusPx` of a cluster's seed joins it. A cluster sits at
 * its members' mean position. An asset the projection cannot place stays
 * on its own.
 */
export function clusterPoints(points: MapPoint[], toPixel: (p: { lon: number; lat: number }) => number[] | undefined, radiusPx: number): Cluster[] {
  const seeds: { px: number[] | undefined; members: MapPoint[] }[] = []
  for (const p of [...points].sort((a, b) => b.capacityKw - a.capacityKw || a.id.localeCompare(b.id))) {
    const px = toPixel(p)
    const near = px && seeds.find((s) => s.px && Math.hypot(s.px[0] - px[0], s.px[1] - px[1]) <= radiusPx)
    if (near) near.members.push(p)
    else seeds.push({ px, members: [p] })
  }
  return seeds.map(({ members }) => ({
    lon: members.reduce((a, m) => a + m.lon, 0) / members.length,
    lat: members.reduce((a, m) => a + m.lat, 0) / members.length,
    status: members.map((m) => m.status).sort((a, b) => rank(a) - rank(b))[0],
    capacityKw: members.reduce((a, m) => a + m.capacityKw, 0),
    members,
  }))
}

type Box = [number, number, number, number] // west, south, east, north

function boxOf(g: Geometry | null): Box | undefined {
  if (!g) return undefined
  let box: Box | undefined
  const visit = (c: Position) => {
    box = box ? [Math.min(box[0], c[0]), Math.min(box[1], c[1]), Math.max(box[2], c[0]), Math.max(box[3], c[1])] : [c[0], c[1], c[0], c[1]]
  }
  const walk = (x: unknown): void => {
    if (Array.isArray(x) && typeof x[0] === 'number') visit(x as Position)
    else if (Array.isArray(x)) x.forEach(walk)
  }
  if (g.type === 'GeometryCollection') g.geometries.forEach((x) => { const b = boxOf(x); if (b) { visit([b[0], b[1]]); visit([b[2], b[3]]) } })
  else walk(g.coordinates)
  return box
}

/**
 * The countries whose outline comes within `marginDeg` of the fleet's
 * extent, each with only its parts near the fleet (France without French
 * Guiana), so the map opens on the fleet and its neighbours; the whole
 * world without a fleet or when nothing is near.
 */
export function featuresAround(world: FeatureCollection<Geometry>, points: { lon: number; lat: number }[], marginDeg = 3): FeatureCollection<Geometry> {
  if (points.length === 0) return world
  const west = Math.min(...points.map((p) => p.lon)) - marginDeg
  const east = Math.max(...points.map((p) => p.lon)) + marginDeg
  const south = Math.min(...points.map((p) => p.lat)) - marginDeg
  const north = Math.max(...points.map((p) => p.lat)) + marginDeg
  const near = (g: Geometry) => {
    const b = boxOf(g)
    return !!b && b[0] <= east && b[2] >= west && b[1] <= north && b[3] >= south
  }
  const nearParts = (f: Feature<Geometry>): Feature<Geometry> | null => {
    if (!f.geometry || !near(f.geometry)) return null
    if (f.geometry.type !== 'MultiPolygon') return f
    const parts = f.geometry.coordinates.filter((coordinates) => near({ type: 'Polygon', coordinates }))
    return { ...f, geometry: { type: 'MultiPolygon', coordinates: parts } }
  }
  const features = world.features.map(nearParts).filter((f): f is Feature<Geometry> => f !== null)
  return { type: 'FeatureCollection', features: features.length ? features : world.features }
}

/**
 * The assets of the fleet's main region: assets within `spanDeg` of each
 * other (in steps) form a region, and the one with the most assets wins. A
 * fleet in Germany with one park in China opens on Germany.
 */
export function mainRegion<P extends { lon: number; lat: number }>(points: P[], spanDeg = 8): P[] {
  const regions: P[][] = []
  for (const p of points) {
    const near = regions.filter((r) => r.some((q) => Math.hypot(q.lon - p.lon, q.lat - p.lat) <= spanDeg))
    if (near.length === 0) regions.push([p])
    else {
      // p joins the first region near it, and bridges any others.
      const [first, ...rest] = near
      first.push(p, ...rest.flat())
      for (const r of rest) regions.splice(regions.indexOf(r), 1)
    }
  }
  return regions.sort((a, b) => b.length - a.length)[0] ?? []
}

/**
 * The view the map opens on, as ECharts' geo `center` and `zoom`: the fleet
 * with a quarter of its extent (at least a degree) around it, in outlines
 * whose whole extent fits zoom 1.
 */
export function viewOf(outlines: FeatureCollection<Geometry>, points: { lon: number; lat: number }[]): { center: [number, number]; zoom: number } | undefined {
  if (points.length === 0) return undefined
  const boxes = outlines.features.map((f) => boxOf(f.geometry)).filter((b): b is Box => !!b)
  if (boxes.length === 0) return undefined
  const all: Box = [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1])), Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))]
  const lons = points.map((p) => p.lon)
  const lats = points.map((p) => p.lat)
  const [west, east, south, north] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)]
  const width = Math.max(2, (east - west) * 1.5)
  const height = Math.max(2, (north - south) * 1.5)
  const zoom = Math.max(1, Math.min((all[2] - all[0]) / width, (all[3] - all[1]) / height))
  return { center: [(west + east) / 2, (south + north) / 2], zoom: Math.round(zoom * 100) / 100 }
}
