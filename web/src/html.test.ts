import { describe, expect, it } from 'vitest'
import { escapeHtml } from './html'

describe('escapeHtml', () => {
  it('turns markup in names into text', () => {
    expect(escapeHtml('<img src=x onerror="alert(1)">')).toBe('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;')
    expect(escapeHtml("Tom & Jerry's PV")).toBe('Tom &amp; Jerry&#39;s PV')
  })
  it('leaves plain names and other values alone', () => {
    expect(escapeHtml('PV Adlershof 光伏')).toBe('PV Adlershof 光伏')
    expect(escapeHtml(null)).toBe('')
    expect(escapeHtml(42)).toBe('42')
  })
})
