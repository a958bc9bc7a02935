import { beforeEach, describe, expect, it } from 'vitest'
import { can, logoutLocally, session, tokens } from './session'
import { memoryStorage } from '../testing/fakes'

beforeEach(() => {
  memoryStorage()
  session.me = null
})

describe('session', () => {
  it('grants what the caller holds, nothing when logged out', () => {
    expect(can('vpps:read')).toBe(false)
    session.me = { id: 'u1', kind: 'user', name: 'viewer', role: 'viewer', permissions: ['vpps:read', 'registry:read'] }
    expect(can('vpps:read')).toBe(true)
    expect(can('audit:read')).toBe(false)
  })

  it('keeps the tokens in sessionStorage until logged out locally', () => {
    tokens.store({ access_token: 'a', refresh_token: 'r' })
    expect([sessionStorage.getItem('vpp.access'), sessionStorage.getItem('vpp.refresh')]).toEqual(['a', 'r'])
    session.me = { id: 'u1', kind: 'user', name: 'x', permissions: [] }
    logoutLocally()
    expect([tokens.access(), tokens.refresh(), session.me]).toEqual([null, null, null])
  })
})
