import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { readEvents, takeEvents, upload, urlOf } from './transfer'
import { ApiError } from './problem'
import { tokens } from './session'
import { memoryStorage } from '../testing/fakes'

describe('urlOf', () => {
  it('fills in the placeholders and the query as the typed client does', () => {
    expect(urlOf({ path: '/api/v1/vpp/sites/{id}/load/import', params: { path: { id: 's 1' }, query: { background: true } } }))
      .toBe('/api/v1/vpp/sites/s%201/load/import?background=true')
    const query = { format: 'csv', delimiter: ';', unit: undefined, belief_time: '2026-03-29T01:00:00.000Z' }
    expect(urlOf({ path: '/api/v1/vpp/series/{id}/import', params: { path: { id: 'abc' }, query } }))
      .toBe('/api/v1/vpp/series/abc/import?format=csv&delimiter=%3B&belief_time=2026-03-29T01%3A00%3A00.000Z')
  })
})

describe('Server-Sent Events', () => {
  it('takes complete events and keeps the rest', () => {
    expect(takeEvents('data: {"a":1}\n\ndata: {"b"')).toEqual({ data: ['{"a":1}'], rest: 'data: {"b"' })
    expect(takeEvents(': keep-alive\n\nevent: snapshot\ndata: 1\n\n')).toEqual({ data: ['1'], rest: '' })
    expect(takeEvents('data: [1,\ndata: 2]\n\n')).toEqual({ data: ['[1,\n2]'], rest: '' })
  })

  it('reads events split anywhere across chunks until the stream ends', async () => {
    const text = 'data: {"at":"1"}\n\ndata: {"at":"2"}\n\n: ping\n\n'
    const chunks = [text.slice(0, 7), text.slice(7, 19), text.slice(19)].map((s) => new TextEncoder().encode(s))
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        chunks.forEach((c) => controller.enqueue(c))
        controller.close()
      },
    })
    const seen: unknown[] = []
    await readEvents(body, (data) => seen.push(data), new AbortController().signal)
    expect(seen).toEqual([{ at: '1' }, { at: '2' }])
  })

  it('stops reading when aborted', async () => {
    const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode('data: 1\n\n')) })
    const abort = new AbortController()
    const seen: unknown[] = []
    const reading = readEvents(body, (data) => {
      seen.push(data)
      abort.abort()
    }, abort.signal)
    await expect(reading).resolves.toBeUndefined()
    expect(seen).toEqual([1])
  })
})

/** Just enough of XMLHttpRequest for `upload`: each request is answered by `answer`. */
class FakeXhr {
  static answer: (xhr: FakeXhr) => void = () => undefined
  static sent: FakeXhr[] = []
  headers: Record<string, string> = {}
  method = ''
  url = ''
  status = 0
  responseText = ''
  upload: { onprogress?: (e: { loaded: number; total: number; lengthComputable: boolean }) => void } = {}
  onload?: () => void
  onerror?: () => void
  onabort?: () => void
  open(method: string, url: string) {
    this.method = method
    this.url = url
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value
  }
  send() {
    FakeXhr.sent.push(this)
    queueMicrotask(() => FakeXhr.answer(this))
  }
  abort() {
    this.onabort?.()
  }
  reply(status: number, body: unknown) {
    this.status = status
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body)
    this.onload?.()
  }
}

describe('upload', () => {
  const target = { path: '/api/v1/vpp/series/{id}/import', params: { path: { id: 's1' }, query: { background: true } } } as const
  const file = new Blob(['time,kw\n'])

  beforeEach(() => {
    memoryStorage()
    tokens.store({ access_token: 'a1', refresh_token: 'r1' })
    FakeXhr.sent = []
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('posts the file with the token and reports progress', async () => {
    const progress: number[][] = []
    FakeXhr.answer = (xhr) => {
      xhr.upload.onprogress?.({ loaded: 4, total: 8, lengthComputable: true })
      xhr.reply(202, { id: 'job1', state: 'running' })
    }
    const sending = upload<{ id: string }>(target, file, 'text/csv', (sent, total) => progress.push([sent, total]))
    expect(await sending.done).toEqual({ id: 'job1', state: 'running' })
    expect(progress).toEqual([[4, 8]])
    const [xhr] = FakeXhr.sent
    expect([xhr.method, xhr.url, xhr.headers]).toEqual(['POST', '/api/v1/vpp/series/s1/import?background=true', { authorization: 'Bearer a1', 'content-type': 'text/csv' }])
  })

  it('throws the problem of a refused file', async () => {
    FakeXhr.answer = (xhr) => xhr.reply(422, { type: 'about:blank', title: 'Invalid', status: 422, detail: 'line 2: no time' })
    const failure = await upload(target, file, 'text/csv', () => undefined).done.catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(ApiError)
    expect((failure as ApiError).message).toBe('line 2: no time')
  })

  it('rejects with an AbortError when cancelled', async () => {
    FakeXhr.answer = () => undefined // never answers
    const sending = upload(target, file, 'text/csv', () => undefined)
    await Promise.resolve()
    sending.abort()
    await expect(sending.done).rejects.toMatchObject({ name: 'AbortError' })
  })
})
