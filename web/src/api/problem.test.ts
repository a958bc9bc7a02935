import { describe, expect, it } from 'vitest'
import { ApiError, problemOf, type Problem } from './problem'

const problem = (extra: Partial<Problem>): Problem => ({ type: 'about:blank', title: 'Unprocessable', status: 422, detail: 'bad', ...extra })

describe('ApiError', () => {
  it('says the detail, or the title without one', () => {
    expect(new ApiError(problem({ detail: 'reason: must not be empty' })).message).toBe('reason: must not be empty')
    expect(new ApiError(problem({ detail: '' })).message).toBe('Unprocessable')
  })

  it('finds the message of a field named alone or in the list', () => {
    const single = new ApiError(problem({ field: 'reason', detail: 'must not be empty' }))
    expect(single.forField('reason')).toBe('must not be empty')
    expect(single.forField('status')).toBeUndefined()

    const listed = new ApiError(problem({
      field: 'name',
      detail: 'two fields are wrong',
      errors: [{ field: 'bids[0].quantity', message: 'must be positive' }, { field: 'bids[0].price', message: 'above the cap' }],
    }))
    expect(listed.forField('bids[0].quantity')).toBe('must be positive')
    expect(listed.forField('bids[0].price')).toBe('above the cap')
    // Not listed: the single field still counts.
    expect(listed.forField('name')).toBe('two fields are wrong')
    expect(listed.forField('vpp_id')).toBeUndefined()
  })

  it('knows whether a form places every named field', () => {
    const shown = (f: string) => ['name', 'tariff_id'].includes(f)
    expect(new ApiError(problem({ field: 'name' })).placedBy(shown)).toBe(true)
    expect(new ApiError(problem({ field: 'month' })).placedBy(shown)).toBe(false)
    expect(new ApiError(problem({})).placedBy(shown)).toBe(false)
    expect(new ApiError(problem({ field: null })).placedBy(shown)).toBe(false)
    const errors = (...fields: string[]) => fields.map((field) => ({ field, message: 'wrong' }))
    expect(new ApiError(problem({ errors: errors('name', 'tariff_id') })).placedBy(shown)).toBe(true)
    expect(new ApiError(problem({ errors: errors('name', 'month') })).placedBy(shown)).toBe(false)
    // An empty list falls back to the single field.
    expect(new ApiError(problem({ errors: [], field: 'name' })).placedBy(shown)).toBe(true)
  })
})

describe('problemOf', () => {
  it('takes problem JSON as it is', () => {
    const body = { type: 'https://vpp/problems/validation', title: 'Invalid', status: 422, detail: 'bad', field: 'name', errors: [] }
    expect(problemOf(422, JSON.stringify(body))).toEqual(body)
  })

  it('makes a problem of other answers', () => {
    expect(problemOf(502, '<html>Bad Gateway</html>')).toEqual({ type: 'about:blank', title: 'HTTP 502', status: 502, detail: '<html>Bad Gateway</html>' })
    expect(problemOf(500, '')).toEqual({ type: 'about:blank', title: 'HTTP 500', status: 500, detail: 'HTTP 500' })
    // JSON without a detail is no problem JSON.
    expect(problemOf(404, '{"error":"nope"}').detail).toBe('{"error":"nope"}')
    expect(problemOf(400, 'null').detail).toBe('null')
  })
})
