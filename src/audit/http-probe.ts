import http from 'node:http'
import https from 'node:https'
import { BudgetExhaustedError, DeadlineExceededError, TargetUnreachableError } from './errors.ts'

export interface ProbeLimits {
  /** Requests the whole audit may send. */
  budget: number
  /** Each request, headers and body, must finish within this. */
  timeoutMs: number
  /** The whole audit ends by this time (ms since the epoch). */
  deadline: number
}

export interface ProbeRequest {
  method?: string
  /** A path on the target (`/x?y`); never a URL: the probe contacts only the target origin. */
  path: string
  headers?: Record<string, string>
  body?: string
}

export interface ProbeResponse {
  status: number
  /** Lowercased names; repeated fields joined with ", " (Set-Cookie kept apart in `setCookies`). */
  headers: Record<string, string>
  setCookies: string[]
  /** At most MAX_BODY_BYTES of the body, for pattern checks only: never printed. */
  body: string
  durationMs: number
}

/** Enough for any error page or JSON answer; the rest is not read (no unbounded buffering). */
const MAX_BODY_BYTES = 256 * 1024

/**
 * The audit's only way out: one origin, a global request budget, a per-request timeout and a total
 * deadline, redirects never followed (node:http does not follow them; callers may follow a relative
 * Location by hand, which stays on the origin). node:http rather than fetch, because the Host
 * and Sec-Fetch-* checks must set request headers fetch forbids or rewrites.
 */
export class HttpProbe {
  readonly target: URL
  private readonly limits: ProbeLimits
  private readonly agent: http.Agent
  private sent = 0
  private answers = 0
  /** Called before each request (the progress line). */
  onRequest: ((used: number, budget: number) => void) | undefined

  constructor(target: URL, limits: ProbeLimits) {
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new TypeError('the target must be an http:// or https:// URL')
    }
    this.target = target
    this.limits = limits
    const options = { keepAlive: true, maxSockets: 2 }
    this.agent = target.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options)
  }

  get used(): number {
    return this.sent
  }

  /** Requests that got a complete answer. */
  get answered(): number {
    return this.answers
  }

  get budget(): number {
    return this.limits.budget
  }

  get remaining(): number {
    return this.limits.budget - this.sent
  }

  /** Milliseconds left before the deadline. */
  get timeLeft(): number {
    return this.limits.deadline - Date.now()
  }

  get isHttps(): boolean {
    return this.target.protocol === 'https:'
  }

  /** The path prefix of the target URL (`https://x/api` → `/api`), joined to every request path. */
  resolve(path: string): string {
    if (!path.startsWith('/') || path.startsWith('//')) {
      throw new TypeError(`audit paths start with one "/" (got ${JSON.stringify(path)})`)
    }
    const prefix = this.target.pathname.replace(/\/+$/, '')
    return `${prefix}${path}`
  }

  async request(request: ProbeRequest): Promise<ProbeResponse> {
    if (this.sent >= this.limits.budget) throw new BudgetExhaustedError('request budget spent')
    const timeLeft = this.timeLeft
    if (timeLeft <= 0) throw new DeadlineExceededError('deadline passed')
    this.sent++
    this.onRequest?.(this.sent, this.limits.budget)
    const timeoutMs = Math.min(this.limits.timeoutMs, timeLeft)
    const byDeadline = timeLeft <= this.limits.timeoutMs
    const client = this.isHttps ? https : http
    const headers: Record<string, string> = { host: this.target.host, ...request.headers }
    if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body))
    const started = performance.now()
    return new Promise<ProbeResponse>((resolve, reject) => {
      const outgoing = client.request(
        {
          agent: this.agent,
          protocol: this.target.protocol,
          hostname: this.target.hostname.replace(/^\[|\]$/g, ''),
          port: this.target.port || undefined,
          method: request.method ?? 'GET',
          path: this.resolve(request.path),
          headers,
        },
        (response) => {
          const chunks: Buffer[] = []
          let size = 0
          response.on('data', (chunk: Buffer) => {
            if (size >= MAX_BODY_BYTES) return
            chunks.push(chunk)
            size += chunk.length
          })
          response.on('end', () => {
            clearTimeout(timer)
            this.answers++
            resolve({
              status: response.statusCode ?? 0,
              headers: flatHeaders(response.headers),
              setCookies: response.headers['set-cookie'] ?? [],
              body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8'),
              durationMs: performance.now() - started,
            })
          })
          response.on('error', fail)
        },
      )
      const timer = setTimeout(() => {
        outgoing.destroy()
        if (byDeadline) reject(new DeadlineExceededError('deadline passed during a request'))
        else
          reject(
            new TargetUnreachableError(
              `${request.method ?? 'GET'} ${request.path}: no answer within ${timeoutMs} ms`,
            ),
          )
      }, timeoutMs)
      function fail(error: Error): void {
        clearTimeout(timer)
        const code = (error as NodeJS.ErrnoException).code
        reject(
          new TargetUnreachableError(`${request.method ?? 'GET'} ${request.path}: ${code ?? error.message}`),
        )
      }
      outgoing.on('error', fail)
      outgoing.end(request.body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'set-cookie' || value === undefined) continue
    flat[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return flat
}

/** `GET /path` plus the named request headers, for evidence; values the caller passes are already safe. */
export function describeRequest(method: string, path: string, headers: Record<string, string> = {}): string {
  const shown = Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  return shown.length > 0 ? `${method} ${path} (${shown.join('; ')})` : `${method} ${path}`
}
