// Who is logged in, and their tokens. Tokens live in sessionStorage, so a
// tab's session ends with the tab.
import { reactive } from 'vue'
import type { Me, TokenResponse } from './types'

export const session = reactive({ me: null as Me | null })

const ACCESS = 'vpp.access'
const REFRESH = 'vpp.refresh'

export const tokens = {
  access: () => sessionStorage.getItem(ACCESS),
  refresh: () => sessionStorage.getItem(REFRESH),
  store(t: Pick<TokenResponse, 'access_token' | 'refresh_token'>) {
    sessionStorage.setItem(ACCESS, t.access_token)
    sessionStorage.setItem(REFRESH, t.refresh_token)
  },
}

/** Forgets the session in this tab (the server is not asked). */
export function logoutLocally() {
  sessionStorage.removeItem(ACCESS)
  sessionStorage.removeItem(REFRESH)
  session.me = null
}

/** True if the logged-in caller holds the permission (pages and buttons use this; the server enforces it). */
export function can(permission: string): boolean {
  return session.me?.permissions.includes(permission) ?? false
}
