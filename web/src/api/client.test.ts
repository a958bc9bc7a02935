import { beforeEach, describe, expect, it } from 'vitest'
import { createApiClients, language, unwrap } from './client'
import { ApiError } from './problem'
import { session, tokens } from './session'
import { fakeServer, json, memoryStorage } from '../testing/fakes'

const BASE = 'http://vpp.test'
const ME = { id: 'u1', kind: 'user', name: 'admin', role: 'admin', permissions: ['vpps:read'] } as const
const fresh = { access_token: 'new-access', refresh_token: 'new-refresh' }

beforeEach(() => {
  memoryStorage()
  tokens.store({ access_token: 'old-access', refresh_token: 'old-refresh' })
  session.me = { ...ME, permissions: [...ME.permissions] }
})

/** A server whose access tokens are `valid`; the refresh endpoint hands out `fresh` for `old-refresh`. */
function server(valid: string[]) {
  return fakeServer((request, body) => {
    const path = new URL(request.url).pathname
    if (path === '/api/v1/auth/refresh') {
      return JSON.parse(body).refresh_token === 'old-refresh' ? json(200, fresh) : json(401, { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'refresh token revoked' })
    }
    const token = request.headers.get('authorization')?.replace('Bearer ', '')
    if (!valid.includes(token ?? '')) return json(401, { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'token expired' })
    if (path === '/api/v1/auth/me') return json(200, ME)
    if (path === '/api/v1/vpp/sites') return json(422, { type: 'about:blank', title: 'Invalid', status: 422, detail: 'must not be empty', field: 'name' })
    return new Response('<html>not here</html>', { status: 404 })
  })
}

describe('the typed client', () => {
  it('sends the access token and hands back the body', async () => {
    const { fetch, seen } = server(['old-access'])
    const { client } = createApiClients({ baseUrl: BASE, fetch })
    expect(await unwrap(client.GET('/api/v1/auth/me'))).toEqual(ME)
    expect(seen).toEqual([{ method: 'GET', url: `${BASE}/api/v1/auth/me`, authorization: 'Bearer old-access', body: '' }])
  })

  it("asks for the server's prose in the page's language", async () => {
    const headers = (lang: string) => {
      ;(globalThis as { document?: unknown }).document = { documentElement: { lang } }
      const request = new Request(`${BASE}/api/v1/vpp/alerts`)
      language.onRequest!({ request } as never)
      return request.headers.get('accept-language')
    }
    try {
      expect(headers('zh-CN')).toBe('zh-CN, en;q=0.5')
      expect(headers('en')).toBe('en')
      expect(headers('')).toBeNull()
    } finally {
      delete (globalThis as { document?: unknown }).document
    }
  })

  it('fills in path placeholders and the query', async () => {
    const { fetch, seen } = fakeServer(() => json(200, { days: [] }))
    const { client } = createApiClients({ baseUrl: BASE, fetch })
    await client.GET('/api/v1/vpp/holiday-calendars/{region}', { params: { path: { region: 'CN JS' } } })
    await client.GET('/api/v1/vpp/resource-instances', { params: { query: { size: 20, status: undefined, sort: '-name' } } })
    expect(seen.map((s) => s.url)).toEqual([
      `${BASE}/api/v1/vpp/holiday-calendars/CN%20JS`,
      `${BASE}/api/v1/vpp/resource-instances?size=20&sort=-name`,
    ])
  })

  it('renews the tokens once on a 401 and sends the request again, body and all', async () => {
    const { fetch, seen } = server(['new-access'])
    const { client } = createApiClients({ baseUrl: BASE, fetch })
    const body = { name: '', tariff_id: 't1' }
    await expect(client.POST('/api/v1/vpp/sites', { body })).rejects.toThrow('must not be empty')
    expect(seen.map((s) => [s.url.slice(BASE.length), s.authorization])).toEqual([
      ['/api/v1/vpp/sites', 'Bearer old-access'],
      ['/api/v1/auth/refresh', null],
      ['/api/v1/vpp/sites', 'Bearer new-access'],
    ])
    expect(JSON.parse(seen[2].body)).toEqual(body)
    expect([tokens.access(), tokens.refresh()]).toEqual(['new-access', 'new-refresh'])
    expect(session.me).not.toBeNull()
  })

  it('forgets the session when renewing does not help', async () => {
    const { fetch, seen } = server([])
    const { client } = createApiClients({ baseUrl: BASE, fetch })
    const failure = await client.GET('/api/v1/auth/me').catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(ApiError)
    expect((failure as ApiError).problem.status).toBe(401)
    expect(seen).toHaveLength(3)
    expect([tokens.access(), tokens.refresh(), session.me]).toEqual([null, null, null])
  })

  it('forgets the session without a second try when the refresh token is refused', async () => {
    tokens.store({ access_token: 'old-access', refresh_token: 'revoked' })
    const { fetch, seen } = server([])
    const { client } = createApiClients({ baseUrl: BASE, fetch })
    await expect(client.GET('/api/v1/auth/me')).rejects.toThrow('token expired')
    expect(seen.map((s) => s.url.slice(BASE.length))).toEqual(['/api/v1/auth/me', '/api/v1/auth/refresh'])
    expect(session.me).toBeNull()
  })

  it('renews once for requests that fail together', async () => {
    const { fetch, seen } = server(['new-access'])
    const { client } = createApiClients({ baseUrl: BASE, fetch })
    await Promise.all([unwrap(client.GET('/api/v1/auth/me')), unwrap(client.GET('/api/v1/auth/me'))])
    expect(seen.filter((s) => s.url.endsWith('/auth/refresh'))).toHaveLength(1)
  })

  it('throws problem JSON as ApiError, and makes a problem of other error answers', async () => {
    const { fetch } = server(['old-access'])
    const { client } = createApiClients({ baseUrl: BASE, fetch })
    const invalid = await client.POST('/api/v1/vpp/sites', { body: { name: '', tariff_id: 't1' } }).catch((e: unknown) => e)
    expect(invalid).toBeInstanceOf(ApiError)
    expect((invalid as ApiError).forField('name')).toBe('must not be empty')
    const missing = await client.GET('/api/v1/vpp/sites/{id}', { params: { path: { id: 'x' } } }).catch((e: unknown) => e)
    expect((missing as ApiError).problem).toEqual({ type: 'about:blank', title: 'HTTP 404', status: 404, detail: '<html>not here</html>' })
  })

  it('sends no token on the public endpoints and does not renew there', async () => {
    const { fetch, seen } = fakeServer(() => json(401, { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'wrong password' }))
    const { publicClient } = createApiClients({ baseUrl: BASE, fetch })
    await expect(publicClient.POST('/api/v1/auth/login', { body: { username: 'admin', password: 'x' } })).rejects.toThrow('wrong password')
    expect(seen).toHaveLength(1)
    expect(seen[0].authorization).toBeNull()
    expect(tokens.access()).toBe('old-access')
  })
})
