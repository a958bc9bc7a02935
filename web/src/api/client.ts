// The typed REST client: paths, parameters, bodies and answers are checked
// against the server's OpenAPI document (schema.d.ts, `npm run gen:api`).
//
//   const page = await unwrap(client.GET('/api/v1/audit', { params: { query: { size: 50 } } }))
//
// Two middlewares make every call behave the same: `bearer` sends the access
// token and renews it once on a 401, `problems` throws an ApiError for any
// answer that is not 2xx, so callers only see successful bodies.
import createClient, { type Client, type Middleware } from 'openapi-fetch'
import type { paths } from './schema'
import { ApiError, problemOf } from './problem'
import { logoutLocally, tokens } from './session'

type Fetch = (request: Request) => Promise<Response>

/** Non-2xx answers become an ApiError with their problem JSON. */
export const problems: Middleware = {
  async onResponse({ response }) {
    if (!response.ok) throw new ApiError(problemOf(response.status, await response.text()))
  },
}

/**
 * Asks for the server's prose (alert messages, bill lines, formulas, the
 * park report) in the console's language: the page's `lang`, which the
 * locale switch sets.
 */
export const language: Middleware = {
  onRequest({ request }) {
    const lang = typeof document === 'undefined' ? '' : document.documentElement.lang
    if (lang) request.headers.set('accept-language', lang.startsWith('zh') ? 'zh-CN, en;q=0.5' : 'en')
  },
}

function withToken(request: Request): Request {
  const token = tokens.access()
  if (token) request.headers.set('authorization', `Bearer ${token}`)
  return request
}

/**
 * Sends the access token. On a 401 it renews the tokens once through
 * `renew` and sends the request again; if the answer is still 401 the
 * session is forgotten (the router then shows the login page).
 */
export function bearer(renew: () => Promise<boolean>): Middleware {
  // A sent request's body is spent: a copy is kept until the answer is in.
  const copies = new Map<string, Request>()
  return {
    onRequest({ request, id }) {
      withToken(request)
      copies.set(id, request.clone())
    },
    async onResponse({ response, id, options }) {
      const copy = copies.get(id)
      copies.delete(id)
      if (response.status !== 401) return
      let answer = response
      if (copy && (await renew())) answer = await options.fetch(withToken(copy))
      if (answer.status === 401) logoutLocally()
      return answer
    },
    onError({ id }) {
      copies.delete(id)
    },
  }
}

export interface ApiClients {
  /** For everything but the token endpoints. */
  client: Client<paths>
  /** Without tokens: login, refresh and logout. */
  publicClient: Client<paths>
  /** Renews the tokens with the refresh token; false if there is none or the server refused it. */
  renew: () => Promise<boolean>
}

/**
 * Builds the clients. The base URL is the console's own origin in the
 * browser; tests give an absolute one and their own `fetch`.
 */
export function createApiClients(options: { baseUrl?: string; fetch?: Fetch } = {}): ApiClients {
  // Looked up at each call, so a test can stub the global fetch.
  const fetch = options.fetch ?? ((request: Request) => globalThis.fetch(request))
  const publicClient = createClient<paths>({ baseUrl: options.baseUrl, fetch })
  publicClient.use(problems)

  async function renewOnce(): Promise<boolean> {
    const refreshToken = tokens.refresh()
    if (!refreshToken) return false
    try {
      const { data } = await publicClient.POST('/api/v1/auth/refresh', { body: { refresh_token: refreshToken } })
      if (!data) return false
      tokens.store(data)
      return true
    } catch (e) {
      if (e instanceof ApiError) return false
      throw e
    }
  }
  // Requests that fail together share one renewal: a refresh token is good for one use.
  let renewing: Promise<boolean> | null = null
  const renew = () => (renewing ??= renewOnce().finally(() => (renewing = null)))

  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch })
  // openapi-fetch runs onRequest first to last and onResponse last to
  // first: `language` sets its header before `bearer` keeps a copy to send
  // again after a renewal, and `bearer` sees a 401 before `problems` turns
  // it into an error.
  client.use(problems, language, bearer(renew))
  return { client, publicClient, renew }
}

export const { client, publicClient, renew } = createApiClients()

/**
 * The body of a successful answer. Errors never get here: the middleware
 * has thrown them as ApiError.
 */
export async function unwrap<T>(pending: Promise<{ data?: T }>): Promise<T> {
  return (await pending).data as T
}
