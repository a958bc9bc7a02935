// Today's and tomorrow's day-ahead prices of the first SPOT connector, and
// their ECharts option; the dashboard and the trading monitor both show them.
import { get } from './api'
import { when } from './i18n'

export interface SpotPrices { name: string; unit: string; points: { start: string; value: number }[] }

export async function loadSpotPrices(): Promise<SpotPrices | null> {
  const connectors = await get<{ id: string; name: string; market_type: string }[]>('/api/v1/vpp/market-connectors')
  const spot = connectors.find((c) => c.market_type === 'SPOT')
  if (!spot) return null
  const data = await get<{ unit: string; points: { start: string; value: number }[] }>(`/api/v1/vpp/market-data/${spot.id}/realtime`)
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
