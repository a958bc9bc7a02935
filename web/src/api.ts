// The console talks only to the public REST API. Tokens live in
// sessionStorage: a refresh token renews the access token once on a 401.
import { reactive } from 'vue'

export interface FieldError { field: string; message: string }
export interface Problem { type: string; title: string; status: number; detail: string; field?: string; errors?: FieldError[] }

export class ApiError extends Error {
  constructor(public problem: Problem) {
    super(problem.detail || problem.title)
  }
  /** The message for one field, if the API named it. */
  forField(field: string): string | undefined {
    const listed = this.problem.errors?.find((e) => e.field === field)?.message
    return listed ?? (this.problem.field === field ? this.problem.detail : undefined)
  }
  /** True if every field the API named is one `shown` places at an input, so no message needs the form's error box. */
  placedBy(shown: (field: string) => boolean): boolean {
    const e = this.problem
    return e.errors?.length ? e.errors.every((x) => shown(x.field)) : e.field !== undefined && shown(e.field)
  }
}

export interface Me { kind: string; id: string; name: string; role: string; permissions: string[] }

export const session = reactive({ me: null as Me | null })

const ACCESS = 'vpp.access'
const REFRESH = 'vpp.refresh'

function problemOf(status: number, text: string): Problem {
  try {
    const body = JSON.parse(text)
    if (body && typeof body === 'object' && 'detail' in body) return body as Problem
  } catch {
    // not JSON: fall through
  }
  return { type: 'about:blank', title: `HTTP ${status}`, status, detail: text || `HTTP ${status}` }
}

async function refresh(): Promise<boolean> {
  const token = sessionStorage.getItem(REFRESH)
  if (!token) return false
  const r = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: token }),
  })
  if (!r.ok) return false
  const t = await r.json()
  sessionStorage.setItem(ACCESS, t.access_token)
  sessionStorage.setItem(REFRESH, t.refresh_token)
  return true
}

/** Sends a request; JSON bodies for objects, raw text otherwise. Throws ApiError with the problem JSON. */
export async function raw(method: string, path: string, body?: unknown, contentType?: string, signal?: AbortSignal): Promise<Response> {
  const send = () => {
    const headers: Record<string, string> = {}
    const token = sessionStorage.getItem(ACCESS)
    if (token) headers.authorization = `Bearer ${token}`
    let payload: BodyInit | undefined
    if (typeof body === 'string') {
      payload = body
      headers['content-type'] = contentType ?? 'text/csv'
    } else if (body !== undefined) {
      payload = JSON.stringify(body)
      headers['content-type'] = 'application/json'
    }
    return fetch(path, { method, headers, body: payload, signal })
  }
  let r = await send()
  if (r.status === 401 && (await refresh())) r = await send()
  if (r.status === 401) {
    logoutLocally()
  }
  if (!r.ok) throw new ApiError(problemOf(r.status, await r.text()))
  return r
}

export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const r = await raw(method, path, body, undefined, signal)
  return (await r.json()) as T
}

export const get = <T>(path: string) => api<T>('GET', path)

export async function login(username: string, password: string): Promise<void> {
  const r = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!r.ok) throw new ApiError(problemOf(r.status, await r.text()))
  const t = await r.json()
  sessionStorage.setItem(ACCESS, t.access_token)
  sessionStorage.setItem(REFRESH, t.refresh_token)
  await loadMe()
}

export async function loadMe(): Promise<Me | null> {
  if (!sessionStorage.getItem(ACCESS)) return null
  try {
    session.me = await get<Me>('/api/v1/auth/me')
  } catch {
    session.me = null
  }
  return session.me
}

function logoutLocally() {
  sessionStorage.removeItem(ACCESS)
  sessionStorage.removeItem(REFRESH)
  session.me = null
}

export async function logout(): Promise<void> {
  const token = sessionStorage.getItem(REFRESH)
  if (token) {
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: token }),
    }).catch(() => undefined)
  }
  logoutLocally()
}

/** True if the logged-in caller holds the permission (pages and buttons use this; the server enforces it). */
export function can(permission: string): boolean {
  return session.me?.permissions.includes(permission) ?? false
}

/** Reads a Server-Sent Events stream with the bearer token (EventSource cannot send headers). */
export async function stream(path: string, onEvent: (data: unknown) => void, signal: AbortSignal): Promise<void> {
  const r = await raw('GET', path)
  const reader = r.body?.getReader()
  if (!reader) return
  const decoder = new TextDecoder()
  let buffer = ''
  signal.addEventListener('abort', () => reader.cancel().catch(() => undefined))
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += decoder.decode(value, { stream: true })
    let cut
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n')
      if (data) onEvent(JSON.parse(data))
    }
  }
}

/** A file upload under way: its answer, and a way to stop it. */
export interface Upload<T> { done: Promise<T>; abort: () => void }

/**
 * Uploads a file with XMLHttpRequest, whose upload events (unlike fetch's)
 * tell how many bytes went out: `onProgress(sent, total)`. `abort()` stops
 * the upload; the server stores nothing of a body it never received whole.
 */
export function upload<T>(path: string, file: Blob, contentType: string, onProgress: (sent: number, total: number) => void): Upload<T> {
  let xhr: XMLHttpRequest | null = null
  let aborted = false
  const once = () =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      xhr = new XMLHttpRequest()
      xhr.open('POST', path)
      const token = sessionStorage.getItem(ACCESS)
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
    if (r.status === 401 && !aborted && (await refresh())) r = await once()
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
