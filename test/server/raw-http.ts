/**
 * HTTP/1.1 over a plain node:net socket to 127.0.0.1, for what inject() cannot send: stalled
 * bodies, oversized headers, framing a parser refuses. Every exchange is bounded in time.
 */
import net from 'node:net'
import type { FastifyInstance } from 'fastify'

export interface RawResponse {
  status: number
  /** Lowercase names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
  /** Milliseconds from the first byte written to the whole response read. */
  ms: number
  /** The server closed the connection (within 500 ms of the response). */
  closed: boolean
}

export interface RawOptions {
  /** Written after the first chunk, `everyMs` apart (a slow client); the socket then stays open. */
  trickle?: { chunks: string[]; everyMs: number }
  /** Give up (and fail) after this long without a whole response. */
  timeoutMs?: number
  /** The answer to a HEAD request: Content-Length describes a body that is not sent. */
  head?: boolean
}

/** The port an app listens on, after `listen({ port: 0, host: '127.0.0.1' })`. */
export function portOf(app: FastifyInstance): number {
  return (app.server.address() as net.AddressInfo).port
}

function parse(
  raw: Buffer,
  head = false,
): { status: number; headers: Record<string, string>; body: string } | null {
  const end = raw.indexOf('\r\n\r\n')
  if (end === -1) return null
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const body = raw.subarray(end + 4)
  const length = Number(headers['content-length'] ?? Number.NaN)
  if (!head && Number.isFinite(length) && body.length < length) return null
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.toString('utf8') }
}

/** Writes `request` and reads one response; rejects after `timeoutMs` (default 5 s). */
export function rawRequest(port: number, request: string, options: RawOptions = {}): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? 5000
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const timers: NodeJS.Timeout[] = []
    let received = Buffer.alloc(0)
    let started = 0
    let answered: Omit<RawResponse, 'closed'> | null = null
    const finish = (closed: boolean) => {
      for (const timer of timers) clearTimeout(timer)
      socket.destroy()
      if (answered) resolve({ ...answered, closed })
      else reject(new Error(`no whole response (got ${JSON.stringify(received.toString('latin1'))})`))
    }
    timers.push(setTimeout(() => finish(false), timeoutMs))
    socket.on('connect', () => {
      started = performance.now()
      socket.write(request)
      options.trickle?.chunks.forEach((chunk, i) => {
        timers.push(
          setTimeout(() => socket.writable && socket.write(chunk), (i + 1) * options.trickle!.everyMs),
        )
      })
    })
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk])
      if (answered) return
      const parsed = parse(received, options.head)
      if (!parsed) return
      answered = { ...parsed, ms: performance.now() - started }
      // Did the server close? Give it a moment, then stop waiting.
      timers.push(setTimeout(() => finish(false), 500))
    })
    socket.on('error', () => {})
    socket.on('close', () => finish(answered !== null))
  })
}

/** Resolves with how long the server took to close an idle connection after one response. */
export function idleCloseAfterResponse(port: number, request: string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let answeredAt = 0
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('the server kept the idle connection open'))
    }, timeoutMs)
    socket.on('connect', () => socket.write(request))
    socket.on('data', (chunk) => {
      if (answeredAt === 0 && chunk.includes('\r\n\r\n')) answeredAt = performance.now()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      if (answeredAt === 0) reject(new Error('closed before answering'))
      else resolve(performance.now() - answeredAt)
    })
  })
}
