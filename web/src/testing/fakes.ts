// Helpers for the API's unit tests: a sessionStorage in memory and a fake
// server answering from a list of handlers.
import { vi } from 'vitest'

/** Installs an empty sessionStorage (or localStorage: Node has neither) and returns it. */
export function memoryStorage(name: 'sessionStorage' | 'localStorage' = 'sessionStorage'): Storage {
  const items = new Map<string, string>()
  const storage: Storage = {
    get length() {
      return items.size
    },
    clear: () => items.clear(),
    getItem: (k) => items.get(k) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (k) => void items.delete(k),
    setItem: (k, v) => void items.set(k, String(v)),
  }
  vi.stubGlobal(name, storage)
  return storage
}

export const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

/** A fake `fetch` that records each request (with its body read) and answers with `answer`. */
export function fakeServer(answer: (request: Request, body: string) => Response | Promise<Response>) {
  const seen: { method: string; url: string; authorization: string | null; body: string }[] = []
  const fetch = async (request: Request) => {
    const body = await request.text()
    seen.push({ method: request.method, url: request.url, authorization: request.headers.get('authorization'), body })
    return answer(request, body)
  }
  return { fetch, seen }
}
