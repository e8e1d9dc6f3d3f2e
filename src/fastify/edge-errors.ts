import {
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http'
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
  'METHOD_NOT_ALLOWED',
]

/** Node's parser and timeout errors, as Node's own clientError handler maps them. */
function clientErrorCode(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT'
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE'
  if (error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 'BODY_TOO_LARGE'
  return 'MALFORMED_REQUEST'
}

/**
 * A whole HTTP/1.1 response, written once per error code at boot. The HEAD variant has the same
 * headers and no body (RFC 9110 §9.3.2): a client reading a body there would take it for the next
 * response.
 */
function rawResponse(code: ErrorCode, headers: Record<string, string>, forHead = false): Buffer {
  const { status, detail } = ERRORS[code]
  const json = JSON.stringify({ detail, code })
  const body = forHead ? '' : json
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(json)}`,
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
  const headResponses = new Map(CLIENT_ERROR_CODES.map((code) => [code, rawResponse(code, headers, true)]))
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
    const isHead = (error as { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD '
    endWith(socket, (isHead ? headResponses : responses).get(code) as Buffer)
  }
}

/** Writes a whole response and closes: once flushed, or soon if the client stops reading. */
function endWith(socket: Duplex, response: Buffer): void {
  socket.end(response)
  const timer = setTimeout(() => socket.destroy(), 1000)
  timer.unref()
  socket.once('finish', () => {
    clearTimeout(timer)
    socket.destroy()
  })
}

/**
 * What Node answers itself, below Fastify, in our shape: `CONNECT` (Node drops the socket without
 * a word when nobody listens) and an `Expect` other than 100-continue (Node's bare 417). A request
 * asking to upgrade the connection (WebSocket, h2c) is served like any other, then the connection
 * is closed: Node's parser stops refusing malformed requests after one, and a malformed request
 * left unanswered holds the socket until the headers timeout.
 */
export function answerBelowFastify(server: Server, options: EdgeErrorOptions = {}): void {
  const headers = apiHeaders(options)
  const connectRefusal = rawResponse('METHOD_NOT_ALLOWED', headers)
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    if (socket.writable) endWith(socket, connectRefusal)
    else socket.destroy()
  })
  const { status, detail } = ERRORS.EXPECTATION_FAILED
  const expectationBody = JSON.stringify({ detail, code: 'EXPECTATION_FAILED' })
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    response.shouldKeepAlive = false
    response.writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(expectationBody),
    })
    response.end(request.method === 'HEAD' ? undefined : expectationBody)
  })
}

/** The request listener Fastify is given, with upgrade requests answered on a closing connection. */
export function closingUpgrades(handler: RequestListener): RequestListener {
  return (request, response) => {
    if (request.headers.upgrade !== undefined) response.shouldKeepAlive = false
    handler(request, response)
  }
}
