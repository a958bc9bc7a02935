import { describe, expect, it, vi } from 'vitest'
import { memoryStorage } from './testing/fakes'

// i18n.ts picks the locale from localStorage and the browser when loaded.
memoryStorage('localStorage')
vi.stubGlobal('navigator', { language: 'en-US' })
const { i18n, money, num, when } = await import('./i18n')
const { priceOption } = await import('./market')

describe('money', () => {
  it('shows an amount with its currency and two decimals in the chosen locale', () => {
    // The API sends decimals as text with as many places as it keeps.
    expect(money('12746.6753250', 'EUR')).toBe('€12,746.68')
    expect(money(-3.5, 'USD')).toBe('-$3.50')
    i18n.global.locale.value = 'zh-CN'
    expect(money('12746.6753250', 'CNY')).toBe('¥12,746.68')
    i18n.global.locale.value = 'en'
  })

  it('keeps a code that is no ISO currency beside the number, and shows a dash for none', () => {
    expect(money('1.5', 'POINTS')).toBe('1.50 POINTS')
    expect(money(null, 'EUR')).toBe('–')
    expect(money('x', 'EUR')).toBe('–')
  })
})

describe('num', () => {
  it('formats with the given digits in the chosen locale', () => {
    expect(num(1234.56)).toBe('1,234.6')
    expect(num(1234.56, 0)).toBe('1,235')
    expect(num(0.5, 2)).toBe('0.50')
    i18n.global.locale.value = 'zh-CN'
    expect(num(-1234.5, 1)).toBe('-1,234.5')
    i18n.global.locale.value = 'en'
  })

  it('shows a dash for no number', () => {
    expect(num(null)).toBe('–')
    expect(num(undefined)).toBe('–')
    expect(num(Number.NaN)).toBe('–')
  })
})

describe('when', () => {
  it('shows an instant in a time zone', () => {
    // 01:00 UTC on the day the clocks go forward is 03:00 in Berlin.
    expect(when('2026-03-29T01:00:00Z', 'Europe/Berlin')).toMatch(/^3\/29\/26, 3:00\sAM$/u)
    expect(when('2026-03-29T01:00:05Z', 'UTC', true)).toMatch(/^3\/29\/26, 1:00:05\sAM$/u)
  })

  it('shows a dash for no time', () => {
    expect(when(null)).toBe('–')
    expect(when('')).toBe('–')
  })
})

describe('priceOption', () => {
  it('draws the prices as a step line with their unit', () => {
    const option = priceOption({ name: 'EPEX', unit: 'EUR/MWh', points: [{ start: '2026-03-29T00:00:00Z', value: 51.2 }, { start: '2026-03-29T01:00:00Z', value: -3 }] })
    expect(option.yAxis.name).toBe('EUR/MWh')
    expect(option.series[0]).toMatchObject({ type: 'line', step: 'start', data: [51.2, -3] })
    expect(option.xAxis.data).toHaveLength(2)
  })

  it('draws nothing without prices', () => {
    const option = priceOption(null)
    expect([option.xAxis.data, option.series[0].data, option.yAxis.name]).toEqual([[], [], ''])
  })
})

describe('the two languages', () => {
  it('have the same keys, none of them empty', () => {
    const messages = i18n.global.messages.value as Record<string, unknown>
    const keys = (x: unknown, prefix = ''): string[] =>
      typeof x === 'object' && x !== null ? Object.entries(x).flatMap(([k, v]) => keys(v, `${prefix}${k}.`)) : [`${prefix.slice(0, -1)}=${x === '' ? 'EMPTY' : ''}`]
    const all = [...keys(messages.en), ...keys(messages['zh-CN'])]
    expect(all.filter((k) => k.endsWith('=EMPTY'))).toEqual([])
    const en = keys(messages.en).map((k) => k.replace(/=$/, ''))
    const zh = keys(messages['zh-CN']).map((k) => k.replace(/=$/, ''))
    expect(en.filter((k) => !zh.includes(k))).toEqual([])
    expect(zh.filter((k) => !en.includes(k))).toEqual([])
    expect(en.length).toBeGreaterThan(300)
  })
})
