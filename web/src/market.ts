// Today's and tomorrow's day-ahead prices of the first SPOT connector, and
// their ECharts option; the dashboard and the trading monitor both show them.
import { client, unwrap } from './api'
import type { Schemas } from './api/types'
import { when } from './i18n'

export interface SpotPrices { name: string; unit: string; points: Pick<Schemas['PricePoint'], 'start' | 'value'>[] }

export async function loadSpotPrices(): Promise<SpotPrices | null> {
  const connectors = await unwrap(client.GET('/api/v1/vpp/market-connectors'))
  const spot = connectors.find((c) => c.market_type === 'SPOT')
  if (!spot) return null
  const data = await unwrap(client.GET('/api/v1/vpp/market-data/{market_id}/realtime', { params: { path: { market_id: spot.id } } }))
  return { name: spot.name, unit: data.unit, points: data.points }
}

export function priceOption(prices: SpotPrices | null) {
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 20 },
    xAxis: { type: 'category', data: prices?.points.map((p) => when(p.start)) ?? [] },
    yAxis: { type: 'value', name: prices?.unit ?? '' },
    series: [{ type: 'line', step: 'start', showSymbol: false, data: prices?.points.map((p) => p.value) ?? [] }],
  }
}
