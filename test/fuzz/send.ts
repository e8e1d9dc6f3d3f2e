/**
 * Sends a RequestSpec to the server on 127.0.0.1: over Node's HTTP client on keep-alive
 * connections, or as raw bytes on a fresh socket (half-closed after writing, so a request the
 * server cannot finish is answered at once instead of waiting for its timeout).
 * Every request is bounded by `timeoutMs`; past it the answer is a hang.
 */
import http from 'node:http'
import net from 'node:net'
import { SELF_HOST, SELF_ORIGIN } from './headers.ts'
import type { RequestSpec } from './requests.ts'
import { fill, fillBytes } from './slots.ts'
import type { CookieNames, UserPool } from './users.ts'

export interface Concrete {
  channel: 'http' | 'raw'
  method: string
  target: string
  headers: [string, string][]
  body: Buffer
  /** raw: the exact bytes written. */
  bytes?: Buffer
  /** raw: the framing headers were changed, the server may wait for more body: end input after writing. */
  halfClose?: boolean
}

export interface Answer {
  status: number
  /** Lowercase names; repeated headers joined with ", " (set-cookie kept as a list). */
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  ms: number
  /** No whole answer: the reason (hang past the bound, connection closed or reset). */
  failure?: string
}

export interface Target {
  port: number
  cookies: CookieNames
  users: UserPool
}

/** The request with its slots filled and its credentials added. */
export function materialize(spec: RequestSpec, target: Target): Concrete {
  const host = `127.0.0.1:${target.port}`
  const text = (s: string) =>
    fill(s, target.users, spec.marker).replaceAll(SELF_HOST, host).replaceAll(SELF_ORIGIN, `http://${host}`)
  const headers: [string, string][] = []
  if (spec.host !== null) headers.push(['host', text(spec.host)])
  const { mode, k } = spec.auth
  const live = target.users.user(k)
  const stale = target.users.stale(k) ?? live
  const cookie = (user: typeof live, csrf: string | null) => {
    headers.push([
      'cookie',
      `${target.cookies.session}=${user.session}; ${target.cookies.csrf}=${user.csrfCookie}`,
    ])
    if (csrf !== null) headers.push(['x-csrftoken', csrf])
  }
  if (mode === 'bearer' || mode === 'bearer+cookie') headers.push(['authorization', `Bearer ${live.bearer}`])
  if (mode === 'stale-bearer') headers.push(['authorization', `Bearer ${stale.bearer}`])
  if (mode === 'cookie-csrf' || mode === 'bearer+cookie') cookie(live, live.csrfToken)
  if (mode === 'cookie') cookie(live, null)
  if (mode === 'cookie-bad-csrf') cookie(live, `${live.csrfToken.slice(0, -2)}AA`)
  if (mode === 'stale-cookie') cookie(stale, stale.csrfToken)
  for (const [name, value] of spec.headers) headers.push([text(name), text(value)])
  const body = spec.body ? fillBytes(spec.body.bytes, target.users, spec.marker) : Buffer.alloc(0)
  if (spec.body?.contentType != null) headers.push(['content-type', text(spec.body.contentType)])
  const concrete: Concrete = {
    channel: spec.channel,
    method: spec.method,
    target: text(spec.target),
    headers,
    body,
  }
  if (spec.channel === 'raw') {
    const lines = spec.rawLines.map(text)
    concrete.bytes = rawBytes(concrete, lines, spec.rawLength)
    concrete.halfClose = lines.some((line) => FRAMING.test(line)) && !spec.rawLength
  }
  return concrete
}

const FRAMING = /^(content-length|transfer-encoding)\s*:/i

function rawBytes(request: Concrete, lines: string[], addLength: boolean): Buffer {
  const all = [...request.headers.map(([n, v]) => `${n}: ${v}`), ...lines]
  const framed = lines.some((line) => FRAMING.test(line))
  if (!framed || addLength) all.push(`content-length: ${request.body.length}`)
  if (!all.some((line) => /^connection\s*:/i.test(line))) all.push('connection: close')
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${all.map((l) => `${l}\r\n`).join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'utf8'), request.body])
}

/** The bytes a request puts on the wire (for the report: replayable with `nc` or a socket). */
export function wireBytes(request: Concrete): Buffer {
  if (request.bytes) return request.bytes
  const lines = request.headers.map(([n, v]) => `${n}: ${v}\r\n`)
  if (request.body.length > 0) lines.push(`content-length: ${request.body.length}\r\n`)
  lines.push('connection: close\r\n')
  return Buffer.concat([
    Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\n${lines.join('')}\r\n`, 'latin1'),
    request.body,
  ])
}

export function sendHttp(
  agent: http.Agent,
  port: number,
  request: Concrete,
  timeoutMs: number,
): Promise<Answer> {
  const started = performance.now()
  return new Promise((resolve) => {
    let settled = false
    const done = (answer: Omit<Answer, 'ms'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ ...answer, ms: performance.now() - started })
    }
    const headers = [...request.headers]
    if (request.body.length > 0 && !headers.some(([n]) => n.toLowerCase() === 'content-length')) {
      headers.push(['content-length', String(request.body.length)])
    }
    let req: http.ClientRequest
    try {
      req = http.request({
        // After an Upgrade request Node's parser stops reporting errors on that connection (see
        // known-failures.ts, upgrade-then-refused): such requests get a connection of their own,
        // so they cannot hang the requests that would follow them on a pooled one.
        agent: headers.some(([n]) => n.toLowerCase() === 'upgrade') ? false : agent,
        host: '127.0.0.1',
        port,
        method: request.method,
        path: request.target,
        // An array of raw pairs: sent as given, duplicates included; Node adds no Host of its own.
        headers: headers.flat(),
        setHost: false,
      })
    } catch (error) {
      resolve({
        status: 0,
        headers: {},
        body: Buffer.alloc(0),
        ms: 0,
        failure: `client refused: ${(error as Error).message}`,
      })
      return
    }
    // Where the request was when the bound passed: waiting for a pooled socket is the client's doing.
    let stage = 'waiting for a socket'
    req.on('socket', (socket) => {
      stage = socket.connecting ? 'connecting' : 'on a reused connection'
      if (socket.connecting) {
        socket.once('connect', () => {
          stage = 'connected'
        })
      }
    })
    req.on('finish', () => {
      stage = 'request written'
    })
    const timer = setTimeout(() => {
      done({
        status: 0,
        headers: {},
        body: Buffer.alloc(0),
        failure: `no answer within ${timeoutMs} ms (${stage})`,
      })
      req.destroy()
    }, timeoutMs)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      )
      res.on('error', (error) =>
        done({ status: 0, headers: {}, body: Buffer.alloc(0), failure: `response: ${error.message}` }),
      )
    })
    req.on('error', (error) =>
      done({ status: 0, headers: {}, body: Buffer.alloc(0), failure: `connection: ${error.message}` }),
    )
    req.end(request.body)
  })
}

/** Parses the first final (non-1xx) answer in `raw`; null while it is incomplete. */
export function parseAnswer(raw: Buffer, method: string, ended: boolean): Omit<Answer, 'ms'> | null {
  let offset = 0
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', offset)
    if (end === -1) return null
    const [statusLine = '', ...lines] = raw.subarray(offset, end).toString('latin1').split('\r\n')
    const status = Number(statusLine.split(' ')[1])
    const headers: Record<string, string | string[]> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      const before = headers[name]
      if (name === 'set-cookie') headers[name] = [...((before as string[] | undefined) ?? []), value]
      else headers[name] = before === undefined ? value : `${before}, ${value}`
    }
    const start = end + 4
    if (status >= 100 && status < 200 && status !== 101) {
      offset = start
      continue
    }
    if (method === 'HEAD' || status === 204 || status === 304)
      return { status, headers, body: Buffer.alloc(0) }
    const rest = raw.subarray(start)
    if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
      const body: Buffer[] = []
      let at = 0
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', at)
        if (lineEnd === -1) return ended ? { status, headers, body: Buffer.concat(body) } : null
        const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16)
        if (size === 0) return { status, headers, body: Buffer.concat(body) }
        if (rest.length < lineEnd + 2 + size)
          return ended ? { status, headers, body: Buffer.concat(body) } : null
        body.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size))
        at = lineEnd + 2 + size + 2
      }
    }
    const length = Number(headers['content-length'] ?? Number.NaN)
    if (Number.isFinite(length))
      return rest.length >= length ? { status, headers, body: rest.subarray(0, length) } : null
    return ended ? { status, headers, body: rest } : null
  }
}

export function sendRaw(port: number, request: Concrete, timeoutMs: number): Promise<Answer> {
  const started = performance.now()
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    let settled = false
    const done = (answer: Omit<Answer, 'ms'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ ...answer, ms: performance.now() - started })
    }
    const none = (failure: string) => done({ status: 0, headers: {}, body: Buffer.alloc(0), failure })
    const timer = setTimeout(() => none(`no answer within ${timeoutMs} ms`), timeoutMs)
    const method = request.method.toUpperCase()
    // Half-closing tells Node the client is gone (it aborts a request in progress), so only a
    // request whose own framing may leave the server waiting for more body is half-closed: the
    // end of input then makes its parser answer the incomplete request.
    socket.on('connect', () => {
      if (request.halfClose) socket.end(request.bytes ?? wireBytes(request))
      else socket.write(request.bytes ?? wireBytes(request))
    })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const answer = parseAnswer(received, method, false)
      if (answer) done(answer)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      const answer = parseAnswer(received, method, true)
      if (answer) done(answer)
      else none(`connection closed without an answer (${received.length} bytes received)`)
    })
  })
}
