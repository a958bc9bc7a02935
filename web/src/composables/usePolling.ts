// Runs a task again and again, `intervalMs` after the previous run ended:
// progress of a job, a stream to reconnect, a clock to tick. A slow run
// delays the next instead of overlapping it, and the polling stops when the
// component (or effect scope) that started it goes away.
import { getCurrentScope, onScopeDispose, readonly, ref, type Ref } from 'vue'

/** One run; `false` ends the polling (a job that finished), anything else goes on. */
export type PollTask = () => unknown

export interface Polling {
  /** Starts at once, unless already polling; resolves (or rejects) with the first run. */
  start: () => Promise<void>
  /** No further runs; one already under way still finishes. */
  stop: () => void
  /** True from start until stop, a `false` from the task, or an error. */
  active: Readonly<Ref<boolean>>
}

export function usePolling(task: PollTask, intervalMs: number): Polling {
  const active = ref(false)
  let timer: ReturnType<typeof setTimeout> | undefined
  // Each start begins a new generation; runs of an older one schedule nothing.
  let generation = 0
  // The run under way (or the last one): the next run waits for it.
  let last: Promise<void> = Promise.resolve()

  function stop() {
    active.value = false
    generation++
    clearTimeout(timer)
    timer = undefined
  }

  function run(mine: number): Promise<void> {
    last = last
      .catch(() => undefined) // the earlier run's error was its caller's
      .then(async () => {
        if (mine !== generation) return
        let again: unknown
        try {
          again = await task()
        } catch (e) {
          if (mine === generation) stop()
          throw e
        }
        if (mine !== generation) return
        if (again === false) stop()
        // An error of a later run surfaces like one in any timer callback.
        else timer = setTimeout(() => void run(mine), intervalMs)
      })
    return last
  }

  function start(): Promise<void> {
    if (active.value) return last
    active.value = true
    return run(++generation)
  }

  if (getCurrentScope()) onScopeDispose(stop)
  return { start, stop, active: readonly(active) }
}
