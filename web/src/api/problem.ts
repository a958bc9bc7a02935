// The API's errors are RFC 7807 problem JSON that may name the field (or,
// under `errors`, several fields) they are about; forms show each message
// at its input.
import type { Schemas } from './types'

export type Problem = Schemas['Problem']
export type FieldError = Schemas['FieldError']

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
    return e.errors?.length ? e.errors.every((x) => shown(x.field)) : e.field != null && shown(e.field)
  }
}

/** The problem an error answer carries: its problem JSON, or one made of the status and the text (a proxy's HTML page, say). */
export function problemOf(status: number, text: string): Problem {
  try {
    const body: unknown = JSON.parse(text)
    if (body && typeof body === 'object' && 'detail' in body) return body as Problem
  } catch {
    // not JSON: fall through
  }
  return { type: 'about:blank', title: `HTTP ${status}`, status, detail: text || `HTTP ${status}` }
}
