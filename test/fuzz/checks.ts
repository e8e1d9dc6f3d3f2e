/**
 * What every answer must be, whatever was asked: no 5xx, errors as `{"detail", "code"}` JSON,
 * documented success shapes, our security headers, none of the request's marker reflected, and
 * an answer within the time bound. Returns the rules an answer breaks (empty: it passed).
 */
import { HSTS_HEADER, NO_STORE, PROFILE_HEADERS } from '../../src/core/headers/index.ts'
import type { Operation } from './operations.ts'
import type { RequestSpec } from './requests.ts'
import type { Json, Schema } from './schema-values.ts'
import type { Answer } from './send.ts'
import { mismatch } from './shape.ts'

export interface Violation {
  /** Stable name of the rule: how known failures are matched. */
  rule: string
  detail: string
}

export interface CheckContext {
  production: boolean
  timeBoundMs: number
  /** The operation the request reached, when its method and path match one. */
  operation: Operation | undefined
  resolve: (schema: Schema) => Schema
}

const API = PROFILE_HEADERS.api

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

function parseJson(body: Buffer): { value?: Json; error?: string } {
  try {
    return { value: JSON.parse(body.toString('utf8')) as Json }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

/** Answers where returning the request's own text is the route's job: the stored preferences. */
function mayEcho(answer: Answer, operation: Operation | undefined): boolean {
  return operation?.name === 'POST /prefs/{user_id}' && answer.status === 200
}

export function check(spec: RequestSpec, answer: Answer, context: CheckContext): Violation[] {
  const out: Violation[] = []
  const fail = (rule: string, detail: string) => out.push({ rule, detail })
  if (answer.failure !== undefined) {
    // Node's client reads a HEAD answer as headers only: bytes after them are content sent anyway.
    const headWithBody = spec.method === 'HEAD' && answer.failure.includes('Data after `Connection: close`')
    const rule = answer.failure.startsWith('no answer')
      ? 'hang'
      : headWithBody
        ? 'head-with-body'
        : 'no-answer'
    fail(rule, answer.failure)
    return out
  }
  if (answer.ms > context.timeBoundMs) fail('slow', `${Math.round(answer.ms)} ms`)
  const { status } = answer
  if (status >= 500 || status < 100)
    fail('5xx', `status ${status}: ${answer.body.toString('utf8').slice(0, 200)}`)

  const type = header(answer, 'content-type') ?? ''
  const isJson = /^application\/json\b/i.test(type)
  const head = spec.method.toUpperCase() === 'HEAD'
  if (status >= 400 && !head) {
    if (!isJson)
      fail(
        'error-not-json',
        `status ${status}, content-type ${JSON.stringify(type)}, body ${JSON.stringify(answer.body.toString('utf8').slice(0, 120))}`,
      )
    else {
      const { value, error } = parseJson(answer.body)
      const keys =
        value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value).sort() : []
      const object = value as { detail?: unknown; code?: unknown } | undefined
      if (error !== undefined) fail('error-not-json', `status ${status}: ${error}`)
      else if (
        keys.join() !== 'code,detail' ||
        typeof object?.code !== 'string' ||
        !/^[A-Z][A-Z_]*$/.test(object.code) ||
        !(typeof object.detail === 'string' || Array.isArray(object.detail))
      ) {
        fail('error-shape', `status ${status}: ${answer.body.toString('utf8').slice(0, 200)}`)
      }
    }
  }
  if (status >= 200 && status < 300 && !head) {
    if (status === 204 && answer.body.length > 0)
      fail('success-shape', `204 with a ${answer.body.length}-byte body`)
    if (isJson && status !== 204) {
      const { value, error } = parseJson(answer.body)
      if (error !== undefined) fail('success-not-json', `status ${status}: ${error}`)
      const schema = context.operation?.responses[String(status)]
      if (error === undefined && schema) {
        const miss = mismatch(schema, value as Json, context.resolve)
        if (miss) fail('success-shape', `${context.operation!.name} ${status}: ${miss}`)
      }
    }
    if (context.operation && !(String(status) in context.operation.responses)) {
      fail(
        'undocumented-success',
        `${context.operation.name} answered ${status}, documented ${Object.keys(context.operation.responses).join(', ')}`,
      )
    }
    // A signed-in answer must not be cached (OWASP Session Management Cheat Sheet, "Web content caching").
    if (context.operation?.secured && header(answer, 'cache-control') !== NO_STORE) {
      fail(
        'cache-control',
        `${context.operation.name} ${status}: cache-control ${header(answer, 'cache-control')}`,
      )
    }
  }

  // Security headers on every answer: the common set exactly; CSP and Referrer-Policy are the
  // API's unless the answer is HTML or the docs.
  for (const name of [
    'x-content-type-options',
    'x-frame-options',
    'cross-origin-opener-policy',
    'cross-origin-resource-policy',
    'permissions-policy',
  ]) {
    if (header(answer, name) !== API[name])
      fail('security-headers', `${name}: ${JSON.stringify(header(answer, name))} (status ${status})`)
  }
  for (const name of ['content-security-policy', 'referrer-policy']) {
    const value = header(answer, name)
    const html = /^text\/html/i.test(type) || /^\/docs(\/|\?|$)/.test(spec.target)
    if (value === undefined || (!html && value !== API[name]))
      fail('security-headers', `${name}: ${JSON.stringify(value)} (status ${status}, ${type})`)
  }
  if (context.production && header(answer, HSTS_HEADER[0]) !== HSTS_HEADER[1]) {
    fail(
      'security-headers',
      `${HSTS_HEADER[0]}: ${JSON.stringify(header(answer, HSTS_HEADER[0]))} (status ${status})`,
    )
  }

  // Reflection: the marker is letters and digits, so it shows through any escaping.
  if (!mayEcho(answer, context.operation) && answer.body.toString('latin1').includes(spec.marker)) {
    const at = answer.body.toString('latin1').indexOf(spec.marker)
    fail('echo', `body ${JSON.stringify(answer.body.toString('utf8').slice(Math.max(0, at - 60), at + 60))}`)
  }
  for (const [name, value] of Object.entries(answer.headers)) {
    if (String(value).includes(spec.marker)) fail('echo', `header ${name}: ${String(value).slice(0, 120)}`)
  }
  return out
}
