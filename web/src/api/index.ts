// The console talks only to the public REST API, through the typed client
// (client.ts). Tokens live in sessionStorage (session.ts); a refresh token
// renews the access token once on a 401.
import { client, publicClient, unwrap } from './client'
import { logoutLocally, session, tokens } from './session'
import type { Me } from './types'

export { ApiError, problemOf, type FieldError, type Problem } from './problem'
export { can, session } from './session'
export { client, unwrap } from './client'
export { followDashboard, upload, type Upload, type UploadTarget } from './transfer'

export async function login(username: string, password: string): Promise<void> {
  tokens.store(await unwrap(publicClient.POST('/api/v1/auth/login', { body: { username, password } })))
  await loadMe()
}

export async function loadMe(): Promise<Me | null> {
  if (!tokens.access()) return null
  try {
    session.me = await unwrap(client.GET('/api/v1/auth/me'))
  } catch {
    session.me = null
  }
  return session.me
}

export async function logout(): Promise<void> {
  const refreshToken = tokens.refresh()
  if (refreshToken) {
    // The server revokes the refresh token; the tab forgets the session either way.
    await publicClient.POST('/api/v1/auth/logout', { body: { refresh_token: refreshToken } }).catch(() => undefined)
  }
  logoutLocally()
}
