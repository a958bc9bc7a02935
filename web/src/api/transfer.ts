// What the typed client cannot do by itself: upload a file with progress
// (XMLHttpRequest, whose upload events tell the bytes sent) and read a
// stream of Server-Sent Events with the bearer token (EventSource cannot
// send headers). Paths are still keys of the server's document.
import { createFinalURL, createQuerySerializer, defaultPathSerializer } from 'openapi-fetch'
import type { paths } from './schema'
import type { DashboardSnapshot } from './types'
import { ApiError, problemOf } from './problem'
import { client, renew } from './client'
import { logoutLocally, tokens } from './session'

/** The parameters (path placeholders and query) of an operation. */
export type ParamsOf<P extends keyof paths, M extends 'get' | 'post'> = paths[P][M] extends { parameters: infer X } ? X : never

/** Paths that take a whole file (CSV) as their body and answer with JSON. */
export type UploadPath = '/api/v1/vpp/series/{id}/import' | '/api/v1/vpp/sites/{id}/load/import'

/** Where a file goes: the path and its parameters. */
export type UploadTarget = { [P in UploadPath]: { path: P; params: ParamsOf<P, 'post'> } }[UploadPath]

/** The URL of a path with its placeholders and query filled in, encoded as the typed client does. */
export function urlOf(target: UploadTarget): string {
  return createFinalURL(target.path, {
    baseUrl: '',
    params: target.params,
    querySerializer: createQuerySerializer(),
    pathSerializer: defaultPathSerializer,
  })
}

/** A file upload under way: its answer, and a way to stop it. */
export interface Upload<T> { done: Promise<T>; abort: () => void }

/**
 * Uploads a file with XMLHttpRequest: `onProgress(sent, total)` follows the
 * bytes sent. Tokens and errors are handled as by the typed client (one
 * renewal on a 401, ApiError with the problem JSON). `abort()` stops the
 * upload; the server stores nothing of a body it never received whole.
 */
export function upload<T>(target: UploadTarget, file: Blob, contentType: string, onProgress: (sent: number, total: number) => void): Upload<T> {
  const url = urlOf(target)
  let xhr: XMLHttpRequest | null = null
  let aborted = false
  const once = () =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      xhr = new XMLHttpRequest()
      xhr.open('POST', url)
      const token = tokens.access()
      if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`)
      xhr.setRequestHeader('content-type', contentType)
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size)
      xhr.onload = () => resolve({ status: xhr!.status, text: xhr!.responseText })
      xhr.onerror = () => reject(new ApiError(problemOf(0, 'the upload failed: the server could not be reached')))
      xhr.onabort = () => reject(new DOMException('cancelled', 'AbortError'))
      xhr.send(file)
    })
  const done = (async () => {
    let r = await once()
    if (r.status === 401 && !aborted && (await renew())) r = await once()
    if (r.status === 401) logoutLocally()
    if (r.status < 200 || r.status >= 300) throw new ApiError(problemOf(r.status, r.text))
    return JSON.parse(r.text) as T
  })()
  return {
    done,
    abort: () => {
      aborted = true
      xhr?.abort()
    },
  }
}

/** Splits the complete events off the front of a Server-Sent Events text: the data of each, and the rest to keep for later. */
export function takeEvents(buffer: string): { data: string[]; rest: string } {
  const data: string[] = []
  let cut
  while ((cut = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, cut)
    buffer = buffer.slice(cut + 2)
    const joined = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trim())
      .join('\n')
    if (joined) data.push(joined)
  }
  return { data, rest: buffer }
}

/** Reads a Server-Sent Events body until it ends or `signal` aborts; each event's data is handed over as JSON. */
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (data: unknown) => void, signal: AbortSignal): Promise<void> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const stop = () => reader.cancel().catch(() => undefined)
  signal.addEventListener('abort', stop)
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      const taken = takeEvents(buffer + decoder.decode(value, { stream: true }))
      buffer = taken.rest
      for (const data of taken.data) onEvent(JSON.parse(data))
    }
  } finally {
    // A reconnect adds its own: listeners of ended streams would pile up.
    signal.removeEventListener('abort', stop)
  }
}

/** Follows the dashboard's snapshots, pushed every few seconds, until the stream ends or `signal` aborts. */
export async function followDashboard(onSnapshot: (snapshot: DashboardSnapshot) => void, signal: AbortSignal): Promise<void> {
  const { data: body } = await client.GET('/api/v1/vpp/events/dashboard', { parseAs: 'stream', signal })
  if (body) await readEvents(body, (data) => onSnapshot(data as DashboardSnapshot), signal)
}
