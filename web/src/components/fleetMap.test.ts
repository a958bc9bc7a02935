import { describe, expect, it } from 'vitest'
import type { FeatureCollection, Geometry } from 'geojson'
import { clusterPoints, featuresAround, mainRegion, viewOf, type MapPoint } from './fleetMap'

const at = (id: string, lon: number, lat: number, status = 'ONLINE', capacityKw = 100): MapPoint => ({ id, name: id, lon, lat, status, capacityKw })
// A plain projection for the tests: 10 px per degree.
const px = (p: { lon: number; lat: number }) => [p.lon * 10, -p.lat * 10]

describe('clusterPoints', () => {
  it('draws nearby assets as one marker with the worst status and the summed capacity', () => {
    const berlin = [at('a', 13.4, 52.5), at('b', 13.5, 52.52, 'ERROR', 50), at('c', 13.45, 52.48, 'MAINTENANCE')]
    const munich = at('m', 11.58, 48.14, 'ONLINE', 500)
    const clusters = clusterPoints([...berlin, munich], px, 20)
    expect(clusters).toHaveLength(2)
    const city = clusters.find((c) => c.members.length === 3)!
    expect(city.status).toBe('ERROR')
    expect(city.capacityKw).toBe(250)
    expect(city.lon).toBeCloseTo(13.45, 6)
    // The largest asset seeds first.
    expect(clusters[0].members[0].id).toBe('m')
  })

  it('keeps assets apart once zoomed in far enough', () => {
    const zoomed = (p: { lon: number; lat: number }) => [p.lon * 1000, -p.lat * 1000]
    const clusters = clusterPoints([at('a', 13.4, 52.5), at('b', 13.5, 52.52)], zoomed, 20)
    expect(clusters.map((c) => c.members.length)).toEqual([1, 1])
  })

  it('leaves an asset the projection cannot place on its own', () => {
    const clusters = clusterPoints([at('a', 0, 0), at('b', 0, 0)], () => undefined, 50)
    expect(clusters).toHaveLength(2)
  })
})

describe('featuresAround', () => {
  const square = (name: string, w: number, s: number, e: number, n: number) => ({
    type: 'Feature' as const, properties: { name }, id: name,
    geometry: { type: 'Polygon' as const, coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
  })
  const world: FeatureCollection<Geometry> = {
    type: 'FeatureCollection',
    features: [square('Germany', 5.9, 47.3, 15.0, 55.1), square('Poland', 14.1, 49.0, 24.1, 54.8), square('China', 73.5, 18.2, 134.8, 53.6)],
  }
  it('keeps the countries around the fleet', () => {
    const names = featuresAround(world, [{ lon: 13.4, lat: 52.5 }, { lon: 11.6, lat: 48.1 }]).features.map((f) => f.properties?.name)
    expect(names).toEqual(['Germany', 'Poland'])
  })
  it("keeps only a country's parts near the fleet", () => {
    const france = {
      type: 'Feature' as const, properties: { name: 'France' }, id: 'France',
      geometry: {
        type: 'MultiPolygon' as const,
        coordinates: [
          [[[-5, 42], [8, 42], [8, 51], [-5, 51], [-5, 42]]],
          [[[-54.6, 2.1], [-51.6, 2.1], [-51.6, 5.8], [-54.6, 5.8], [-54.6, 2.1]]],
        ],
      },
    }
    const [kept] = featuresAround({ type: 'FeatureCollection', features: [france] }, [{ lon: 7.7, lat: 48.6 }]).features
    expect(kept.geometry.type === 'MultiPolygon' && kept.geometry.coordinates.length).toBe(1)
  })
  it('is the whole world without a fleet or when nothing is near', () => {
    expect(featuresAround(world, []).features).toHaveLength(3)
    expect(featuresAround(world, [{ lon: -150, lat: -60 }]).features).toHaveLength(3)
  })
})

describe('mainRegion', () => {
  it('is the region with the most assets, chained through neighbours', () => {
    const germany = [{ lon: 13.4, lat: 52.5 }, { lon: 10, lat: 53.5 }, { lon: 11.6, lat: 48.1 }]
    const suzhou = [{ lon: 120.6, lat: 31.3 }, { lon: 120.7, lat: 31.3 }]
    expect(mainRegion([suzhou[0], ...germany, suzhou[1]])).toEqual(germany)
    // A chain: a and c are far apart, b links them.
    const chain = [{ lon: 0, lat: 0 }, { lon: 14, lat: 0 }, { lon: 7, lat: 0 }]
    expect(mainRegion(chain)).toHaveLength(3)
    expect(mainRegion([])).toEqual([])
  })
})

describe('viewOf', () => {
  it('centres on the fleet and zooms in as far as its extent allows', () => {
    const europe = {
      type: 'FeatureCollection' as const,
      features: [{ type: 'Feature' as const, properties: {}, geometry: { type: 'Polygon' as const, coordinates: [[[-10, 35], [30, 35], [30, 70], [-10, 70], [-10, 35]]] } }],
    }
    // Berlin, Hamburg and Munich: 3.5° × 5.2°, with room 5.3° × 7.8°; Europe is 40° × 35°.
    const view = viewOf(europe, [{ lon: 13.53, lat: 52.43 }, { lon: 9.98, lat: 53.46 }, { lon: 11.65, lat: 48.25 }])!
    expect(view.center[0]).toBeCloseTo(11.755, 3)
    expect(view.center[1]).toBeCloseTo(50.855, 3)
    expect(view.zoom).toBeCloseTo(4.48, 2)
    expect(viewOf(europe, [])).toBeUndefined()
    // Never zoomed out beyond the outlines.
    expect(viewOf(europe, [{ lon: -170, lat: -80 }, { lon: 170, lat: 80 }])!.zoom).toBe(1)
  })
})
