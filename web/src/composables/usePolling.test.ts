import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope } from 'vue'
import { usePolling } from './usePolling'

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** A task that takes `ms` of (fake) time, counting its runs and how many were under way at once. */
function slowTask(ms: number, again: () => unknown = () => true) {
  const stats = { runs: 0, running: 0, mostAtOnce: 0 }
  const task = async () => {
    stats.runs++
    stats.running++
    stats.mostAtOnce = Math.max(stats.mostAtOnce, stats.running)
    await new Promise((r) => setTimeout(r, ms))
    stats.running--
    return again()
  }
  return { task, stats }
}

describe('usePolling', () => {
  it('runs at once, then the interval after each run has ended', async () => {
    const task = vi.fn()
    const polling = usePolling(task, 250)
    await polling.start()
    expect(task).toHaveBeenCalledTimes(1)
    expect(polling.active.value).toBe(true)
    await vi.advanceTimersByTimeAsync(249)
    expect(task).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(task).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(1000)
    expect(task).toHaveBeenCalledTimes(6)
  })

  it('waits for a slow run instead of overlapping it', async () => {
    const { task, stats } = slowTask(1000)
    const polling = usePolling(task, 100)
    polling.start()
    polling.start() // already polling: nothing more
    await vi.advanceTimersByTimeAsync(1000 + 100 + 1000 + 100)
    expect(stats.runs).toBe(3)
    expect(stats.mostAtOnce).toBe(1)
  })

  it('stops when the task answers false', async () => {
    let left = 3
    const task = vi.fn(() => --left > 0)
    const polling = usePolling(task, 100)
    await polling.start()
    await vi.advanceTimersByTimeAsync(1000)
    expect(task).toHaveBeenCalledTimes(3)
    expect(polling.active.value).toBe(false)
  })

  it('runs no more after stop, and starts again later', async () => {
    const task = vi.fn()
    const polling = usePolling(task, 100)
    await polling.start()
    polling.stop()
    await vi.advanceTimersByTimeAsync(1000)
    expect(task).toHaveBeenCalledTimes(1)
    expect(polling.active.value).toBe(false)
    await polling.start()
    await vi.advanceTimersByTimeAsync(100)
    expect(task).toHaveBeenCalledTimes(3)
  })

  it('restarted while a run is under way, waits for it and keeps one loop', async () => {
    const { task, stats } = slowTask(500)
    const polling = usePolling(task, 100)
    polling.start()
    await vi.advanceTimersByTimeAsync(200)
    polling.stop()
    polling.start()
    await vi.advanceTimersByTimeAsync(300) // the first run ends, the second begins
    expect(stats).toMatchObject({ runs: 2, mostAtOnce: 1 })
    await vi.advanceTimersByTimeAsync(500 + 100 + 500 + 100)
    expect(stats).toMatchObject({ runs: 4, mostAtOnce: 1 })
  })

  it('stops with the component or scope that started it', async () => {
    const task = vi.fn()
    const scope = effectScope()
    const polling = scope.run(() => usePolling(task, 100))!
    await polling.start()
    scope.stop()
    await vi.advanceTimersByTimeAsync(1000)
    expect(task).toHaveBeenCalledTimes(1)
    expect(polling.active.value).toBe(false)
  })

  it('stops on an error, which the first run hands to the caller', async () => {
    const task = vi.fn(() => {
      throw new Error('server gone')
    })
    const polling = usePolling(task, 100)
    await expect(polling.start()).rejects.toThrow('server gone')
    expect(polling.active.value).toBe(false)
    await vi.advanceTimersByTimeAsync(1000)
    expect(task).toHaveBeenCalledTimes(1)
  })
})
