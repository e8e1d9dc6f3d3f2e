import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERRORS, type ErrorCode, GatehouseError, isGatehouseError } from '../core/errors.ts'
import { isStoreUnavailable } from '../store/store-errors.ts'
import { unsupportedMediaTypeDetail } from './media-types.ts'
import { STORE_RETRY_AFTER_SECONDS, storeOutageOf } from './store-outage.ts'

interface FieldError {
  loc: (string | number)[]
  msg: string
  type: string
}

/**
 * Field names come from the client (an unknown key is named back): only a short plain name is
 * repeated, anything else is a placeholder, and at most `MAX_FIELD_ERRORS` distinct errors are
 * listed, so a body of 3,000 odd keys cannot be echoed back eight times larger (OWASP Error
 * Handling Cheat Sheet; ASVS 5.0 V16.5.1).
 */
const MAX_FIELD_ERRORS = 10
const PLAIN_NAME = /^[A-Za-z0-9_.-]{1,64}$/
const shown = (name: string) => (PLAIN_NAME.test(name) ? name : '(unnamed field)')

/** Fastify/ajv validation errors in FastAPI's shape: `detail: [{loc, msg, type}]`. */
function toFieldErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? 'body'
  const errors = new Map<string, FieldError>()
  for (const issue of error.validation ?? []) {
    const path: (string | number)[] = issue.instancePath
      .split('/')
      .filter(Boolean)
      .map((part) => (/^\d+$/.test(part) ? Number(part) : shown(part)))
    const params = issue.params as Record<string, unknown>
    if (typeof params.missingProperty === 'string') path.push(shown(params.missingProperty))
    if (typeof params.additionalProperty === 'string') path.push(shown(params.additionalProperty))
    const fieldError = { loc: [context, ...path], msg: issue.message ?? 'Invalid value', type: issue.keyword }
    // One entry per field and message: a union's branches repeat "must be string" otherwise.
    const key = JSON.stringify([fieldError.loc, fieldError.msg])
    if (!errors.has(key)) errors.set(key, fieldError)
    if (errors.size === MAX_FIELD_ERRORS) break
  }
  return [...errors.values()]
}

/** Fastify's own error codes that are the client's fault, mapped to our stable codes. */
const FASTIFY_CLIENT_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_BAD_URL: 'MALFORMED_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
}

/**
 * A 4xx nobody mapped (a plugin's, a library's, a handler's): its message may carry internals (a
 * query, a path, the input), so only a generic detail leaves (OWASP Error Handling Cheat Sheet;
 * ASVS 5.0 V16.5.1). Statuses with a code of ours get it; the others keep their status.
 */
const CLIENT_ERRORS_BY_STATUS: Record<number, ErrorCode> = {
  400: 'MALFORMED_REQUEST',
  401: 'NOT_AUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
}

/** A domain field name on the wire: `newPassword` is the body's `new_password`. */
const wireName = (field: string) => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

/** FastAPI's shape for a refused field: `[{loc: ['body', name], msg, type}]`. */
function detailOf(error: GatehouseError): unknown {
  if (error.field === undefined) return error.detail
  const loc = error.field === '' ? ['body'] : ['body', wireName(error.field)]
  return [{ loc, msg: error.message, type: 'value_error' }]
}

export function sendError(reply: FastifyReply, error: GatehouseError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value)
  // RFC 6585 §4 / RFC 9110 §10.2.3: a 429 says when to retry, in seconds.
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
  return reply.code(error.status).send({ detail: detailOf(error), code: error.code })
}

/** Maps anything thrown to `{"detail", "code"}`; never leaks a stack trace or internal message. */
export function gatehouseErrorHandler(
  this: FastifyInstance,
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (isGatehouseError(error)) return sendError(reply, error)
  if (isStoreUnavailable(error)) {
    // Logged once per outage by the tracker, not per request; the client may simply retry.
    storeOutageOf(request.server).refused(error, request.log)
    return sendError(
      reply,
      new GatehouseError('STORE_UNAVAILABLE', { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS }),
    )
  }
  if (error.validation) {
    return sendError(reply, new GatehouseError('VALIDATION_FAILED', { detail: toFieldErrors(error) }))
  }
  const mapped = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined
  if (mapped === 'UNSUPPORTED_MEDIA_TYPE') {
    return sendError(reply, new GatehouseError(mapped, { detail: unsupportedMediaTypeDetail(request) }))
  }
  if (mapped) return sendError(reply, new GatehouseError(mapped))
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) {
    // JSON.parse failures of a custom parser surface as a SyntaxError with statusCode 400.
    if (error instanceof SyntaxError) return sendError(reply, new GatehouseError('MALFORMED_BODY'))
    const code = CLIENT_ERRORS_BY_STATUS[status]
    if (code) return sendError(reply, new GatehouseError(code))
    return reply
      .code(status)
      .send({ detail: STATUS_CODES[status] ?? ERRORS.CLIENT_ERROR.detail, code: 'CLIENT_ERROR' })
  }
  // Once, with what the request was (the stack and the route): the response says nothing of it.
  request.log.error(
    { err: error, method: request.method, route: request.routeOptions.url },
    'unhandled error',
  )
  return reply.code(500).send({ detail: ERRORS.INTERNAL.detail, code: 'INTERNAL' })
}

export function gatehouseNotFoundHandler(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, new GatehouseError('NOT_FOUND'))
}
