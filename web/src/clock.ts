// Quarter-hour labels for charts of one day.

/**
 * `HH:MM` of slot `slot` (0..96) of an average day by local clock time, as
 * the park load profile has it: 96 quarter-hours from 00:00, whatever the
 * date (readings are averaged by their clock time). A real date's
 * quarter-hours come from `quarterHours`.
 */
export function slotClock(slot: number): string {
  return `${String(Math.floor(slot / 4)).padStart(2, '0')}:${String((slot % 4) * 15).padStart(2, '0')}`
}

/**
 * The date (YYYY-MM-DD) of today in `timeZone`, moved by `offsetDays` whole
 * days: the market's delivery days are Berlin's, not the browser's or UTC's.
 */
export function dayIn(timeZone: string, offsetDays = 0): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone }).format(Date.now())
  const [y, m, d] = today.split('-').map(Number)
  return new Date(Date.UTC(y, m - 1, d + offsetDays)).toISOString().slice(0, 10)
}

const QUARTER_MS = 15 * 60_000
const HOUR_MS = 60 * 60_000

/**
 * `HH:MM` of each quarter-hour of the local day `date` (YYYY-MM-DD) in
 * `timeZone`, read off the real instants: 96 labels on most days; where the
 * clocks go forward 92 (Europe/Berlin skips 02:00–02:45), where they go back
 * 100 (02:00–02:45 twice).
 */
export function quarterHours(date: string, timeZone: string): string[] {
  const format = new Intl.DateTimeFormat('en-GB', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  })
  const [y, m, d] = date.split('-').map(Number)
  const midnightUtc = Date.UTC(y, m - 1, d)
  // UTC offsets lie between −12 h and +14 h, so the local day is within
  // these 50 hours; zones are offset by whole quarter-hours.
  const labels: string[] = []
  for (let t = midnightUtc - 14 * HOUR_MS; t < midnightUtc + 36 * HOUR_MS; t += QUARTER_MS) {
    const local = localTime(format, t)
    if (local.date === date) labels.push(local.clock)
  }
  return labels
}

function localTime(format: Intl.DateTimeFormat, t: number): { date: string; clock: string } {
  const part: Record<string, string> = {}
  for (const p of format.formatToParts(t)) part[p.type] = p.value
  return { date: `${part.year}-${part.month}-${part.day}`, clock: `${part.hour}:${part.minute}` }
}
