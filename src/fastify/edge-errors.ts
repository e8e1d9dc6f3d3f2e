import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERRORS, type ErrorCode } from '../core/errors.ts'
import { buildSecurityHeaders } from '../core/headers/index.ts'

export interface EdgeErrorOptions {
  /** Add Strict-Transport-Security, as the app's own responses do (production behind TLS). */
  hsts?: boolean
}

function apiHeaders(options: EdgeErrorOptions): Record<string, string> {
  return Object.fromEntries(buildSecurityHeaders({ profile: 'api', hsts: options.hsts ?? false }))
}

const ROUTER_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_BAD_URL: 'MALFORMED_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
}

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route (a bad percent-encoding, a
 * path parameter over maxParamLength). Fastify's own answer echoes the raw URL, a reflected-input
 * hole; these replies run no hooks, so the API header profile is written here.
 */
export function gatehouseFrameworkErrors(options: EdgeErrorOptions = {}) {
  const headers = apiHeaders(options)
  return function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    const code = (error.code && ROUTER_ERRORS[error.code]) || 'INTERNAL'
    if (code === 'INTERNAL') request.log.error({ code: error.code }, 'framework error')
    void reply.code(ERRORS[code].status).headers(headers).send({ detail: ERRORS[code].detail, code })
  }
}

const CLIENT_ERROR_CODES: ErrorCode[] = [
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  'BODY_TOO_LARGE',
  'MALFORMED_REQUEST',
]

/** Node's parser and timeout errors, as Node's own clientError handler maps them. */
function clientErrorCode(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT'
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE'
  if (error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 'BODY_TOO_LARGE'
  return 'MALFORMED_REQUEST'
}

/** A whole HTTP/1.1 response, written once per error code at boot. */
function rawResponse(code: ErrorCode, headers: Record<string, string>): Buffer {
  const { status, detail } = ERRORS[code]
  const body = JSON.stringify({ detail, code })
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    // A request that cannot be framed gets a 400 "and then close the connection" (RFC 9112
    // §6.3): whatever follows on it could be a smuggled request.
    'connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ]
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1')
}

/** A socket that already carries a response (headers sent) cannot take a second one. */
function responseStarted(socket: Duplex): boolean {
  const message = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  return message?.headersSent === true
}

/**
 * Fastify's `clientErrorHandler`, for what Node's HTTP parser refuses before Fastify sees a request
 * (a header block over 16 KiB, a malformed Content-Length, Content-Length with Transfer-Encoding, a
 * lowercase method) and for the server's request and headers timeouts. Our JSON, our headers, then
 * the connection is closed.
 */
export function gatehouseClientErrorHandler(options: EdgeErrorOptions = {}) {
  const headers = apiHeaders(options)
  const responses = new Map(CLIENT_ERROR_CODES.map((code) => [code, rawResponse(code, headers)]))
  return function clientErrorHandler(
    this: FastifyInstance,
    error: NodeJS.ErrnoException,
    socket: Duplex,
  ): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const code = clientErrorCode(error)
    // The code only: a parser error carries `rawPacket`, the raw request bytes, credentials and
    // all (OWASP Logging Cheat Sheet, "Data to exclude").
    this.log.debug({ code: error.code, status: ERRORS[code].status }, 'client error')
    if (!socket.writable || responseStarted(socket)) {
      socket.destroy()
      return
    }
    socket.end(responses.get(code))
    // A client that stops reading must not hold the socket open: close it once flushed, or soon.
    const timer = setTimeout(() => socket.destroy(), 1000)
    timer.unref()
    socket.once('finish', () => {
      clearTimeout(timer)
      socket.destroy()
    })
  }
}
