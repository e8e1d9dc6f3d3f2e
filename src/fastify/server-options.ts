import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http'
import type { FastifyServerOptions } from 'fastify'
import {
  answerBelowFastify,
  closingUpgrades,
  type EdgeErrorOptions,
  gatehouseClientErrorHandler,
  gatehouseFrameworkErrors,
} from './edge-errors.ts'

export interface ServerTimeouts {
  /** Whole request (headers and body) must arrive within this; 0 turns it off. */
  requestTimeoutSeconds: number
  /** Header block must arrive within this (never off). */
  headersTimeoutSeconds: number
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutSeconds: number
}

/**
 * Node and Fastify leave the request time unlimited, so a body that never ends holds its socket
 * forever (OWASP Denial of Service Cheat Sheet, "set timeouts"; Fastify's `requestTimeout` docs
 * ask for a non-zero value when no proxy buffers requests).
 * - request 30 s: a body is at most BODY_LIMIT_BYTES (64 KiB), 30 s still takes it at ~2 KiB/s;
 * - headers 20 s: Apache mod_reqtimeout's default first limit for headers (`header=20-40`),
 *   a third of Node's 60 s, which is what slowloris connections live on;
 * - keep-alive 72 s (Fastify's default): above the 60 s idle timeout of AWS ALB and nginx's
 *   upstream keepalive; a backend that closes idle connections before its load balancer makes it
 *   reuse a dead one, a 502 (AWS ELB guide, "Connection idle timeout": configure the application's
 *   idle timeout larger than the load balancer's). Node's 5 s does exactly that.
 */
export const SERVER_TIMEOUT_DEFAULTS: Readonly<ServerTimeouts> = Object.freeze({
  requestTimeoutSeconds: 30,
  headersTimeoutSeconds: 20,
  keepAliveTimeoutSeconds: 72,
})

export interface GatehouseServerOptions extends EdgeErrorOptions, Partial<ServerTimeouts> {}

/** Node's default checks deadlines every 30 s, so a 1 s timeout could take 31 s to apply. */
function checkingIntervalMs(timeouts: ServerTimeouts): number {
  const shortest = Math.min(
    timeouts.headersTimeoutSeconds,
    timeouts.requestTimeoutSeconds || Number.POSITIVE_INFINITY,
  )
  return Math.min(1000, Math.max(100, (shortest * 1000) / 2))
}

export function validateTimeouts(timeouts: ServerTimeouts): void {
  for (const [name, value] of Object.entries(timeouts)) {
    const min = name === 'requestTimeoutSeconds' ? 0 : 1
    if (!Number.isInteger(value) || value < min || value > 3600) {
      throw new RangeError(`${name} must be an integer between ${min} and 3600 (got ${value})`)
    }
  }
  const { requestTimeoutSeconds: request, headersTimeoutSeconds: headers } = timeouts
  // Node refuses a headers timeout above the request timeout: it could never fire.
  if (request > 0 && headers > request) {
    throw new RangeError(
      `headersTimeoutSeconds (${headers}) must not exceed requestTimeoutSeconds (${request})`,
    )
  }
}

/**
 * Options for the Fastify constructor: the HTTP server's timeouts, and errors raised by Fastify's
 * router or Node's HTTP parser answered as `{detail, code}` with the API headers instead of their
 * own bodies (which echo the URL). `Fastify({ ...gatehouseServerOptions(), logger: true })`.
 */
export function gatehouseServerOptions(options: GatehouseServerOptions = {}) {
  const timeouts: ServerTimeouts = {
    requestTimeoutSeconds: options.requestTimeoutSeconds ?? SERVER_TIMEOUT_DEFAULTS.requestTimeoutSeconds,
    headersTimeoutSeconds: options.headersTimeoutSeconds ?? SERVER_TIMEOUT_DEFAULTS.headersTimeoutSeconds,
    keepAliveTimeoutSeconds:
      options.keepAliveTimeoutSeconds ?? SERVER_TIMEOUT_DEFAULTS.keepAliveTimeoutSeconds,
  }
  validateTimeouts(timeouts)
  const http: ServerOptions = {
    requestTimeout: timeouts.requestTimeoutSeconds * 1000,
    headersTimeout: timeouts.headersTimeoutSeconds * 1000,
    connectionsCheckingInterval: checkingIntervalMs(timeouts),
  }
  return {
    // Fastify writes these two onto the server after creating it, over `http`'s.
    requestTimeout: timeouts.requestTimeoutSeconds * 1000,
    keepAliveTimeout: timeouts.keepAliveTimeoutSeconds * 1000,
    http,
    frameworkErrors: gatehouseFrameworkErrors(options),
    clientErrorHandler: gatehouseClientErrorHandler(options),
    // Fastify's own server, plus answers in our shape for what Node handles before Fastify. Plain
    // HTTP/1.1: TLS ends at the proxy in front (an app wanting `https` builds its own server).
    serverFactory: (
      handler: RequestListener,
      fastifyOptions: FastifyServerOptions & { http?: ServerOptions },
    ) => edgeServer(handler, fastifyOptions, options),
  } satisfies FastifyServerOptions & { http: ServerOptions }
}

/** What Fastify's own factory does for HTTP/1.1, with the edge answers attached. */
function edgeServer(
  handler: RequestListener,
  fastifyOptions: FastifyServerOptions & { http?: ServerOptions },
  options: EdgeErrorOptions,
): Server {
  const secure = fastifyOptions as { https?: unknown; http2?: unknown }
  if (secure.https || secure.http2) {
    throw new Error(
      'gatehouseServerOptions builds an HTTP/1.1 server: drop `https`/`http2`, or its serverFactory',
    )
  }
  const server = createServer(fastifyOptions.http ?? {}, closingUpgrades(handler))
  if (fastifyOptions.keepAliveTimeout !== undefined) server.keepAliveTimeout = fastifyOptions.keepAliveTimeout
  if (fastifyOptions.requestTimeout !== undefined) server.requestTimeout = fastifyOptions.requestTimeout
  server.setTimeout(fastifyOptions.connectionTimeout ?? 0)
  if (fastifyOptions.maxRequestsPerSocket) server.maxRequestsPerSocket = fastifyOptions.maxRequestsPerSocket
  answerBelowFastify(server, options)
  return server
}
