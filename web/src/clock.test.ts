import { afterEach, describe, expect, it, vi } from 'vitest'
import { dayIn, quarterHours, slotClock } from './clock'

const QUARTERS = ['00', '15', '30', '45']
/** The labels of a day without clock change, from `from` (an hour) to `to` (exclusive). */
const hours = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => QUARTERS.map((m) => `${String(from + k).padStart(2, '0')}:${m}`)).flat()

describe('quarterHours', () => {
  it('labels an ordinary Berlin day with 96 quarter-hours from 00:00 to 23:45', () => {
    expect(quarterHours('2026-06-15', 'Europe/Berlin')).toEqual(hours(0, 24))
  })

  it('skips 02:00-02:45 on the day the clocks go forward (92 quarter-hours)', () => {
    const labels = quarterHours('2026-03-29', 'Europe/Berlin')
    expect(labels).toHaveLength(92)
    expect(labels).toEqual([...hours(0, 2), ...hours(3, 24)])
  })

  it('shows 02:00-02:45 twice on the day the clocks go back (100 quarter-hours)', () => {
    const labels = quarterHours('2026-10-25', 'Europe/Berlin')
    expect(labels).toHaveLength(100)
    expect(labels).toEqual([...hours(0, 3), ...hours(2, 24)])
  })

  it('has 96 quarter-hours on those dates where the clocks do not change', () => {
    expect(quarterHours('2026-03-29', 'Asia/Shanghai')).toEqual(hours(0, 24))
    expect(quarterHours('2026-10-25', 'UTC')).toEqual(hours(0, 24))
  })

  it('handles zones far from UTC and offsets of half an hour', () => {
    expect(quarterHours('2026-01-01', 'Pacific/Kiritimati')).toEqual(hours(0, 24))
    expect(quarterHours('2026-01-01', 'Pacific/Pago_Pago')).toEqual(hours(0, 24))
    expect(quarterHours('2026-01-01', 'Asia/Kolkata')).toEqual(hours(0, 24))
  })
})

describe('slotClock', () => {
  it('labels the 96 slots of an average day, and its end', () => {
    expect(slotClock(0)).toBe('00:00')
    expect(slotClock(1)).toBe('00:15')
    expect(slotClock(39)).toBe('09:45')
    expect(slotClock(95)).toBe('23:45')
    expect(slotClock(96)).toBe('24:00')
    expect([...Array(96).keys()].map(slotClock)).toEqual(hours(0, 24))
  })
})

describe('dayIn', () => {
  afterEach(() => vi.useRealTimers())

  it('is the day in the zone, not in UTC: 23:30 UTC is already tomorrow in Berlin', () => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-12-07T23:30:00Z'))
    expect(dayIn('UTC')).toBe('2026-12-07')
    expect(dayIn('Europe/Berlin')).toBe('2026-12-08')
    expect(dayIn('Europe/Berlin', 1)).toBe('2026-12-09')
    expect(dayIn('Europe/Berlin', -1)).toBe('2026-12-07')
  })

  it('moves by calendar days across a month end and the clock change', () => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-10-24T22:30:00Z'))
    expect(dayIn('Europe/Berlin')).toBe('2026-10-25')
    expect(dayIn('Europe/Berlin', 7)).toBe('2026-11-01')
  })
})
