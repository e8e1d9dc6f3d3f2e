/**
 * Runs a seeded fuzz against a listening server: the requests are drawn up front with
 * `fc.sample(arbitrary, { seed })` (the same seed gives the same requests), sent `concurrency`
 * at a time on keep-alive connections, and every answer is checked (test/fuzz/checks.ts).
 * A failure can be replayed alone and shrunk: `replay()` runs fast-check from the same seed and
 * path, so the counterexample it prints is the smallest request that still fails.
 */
import http from 'node:http'
import fc from 'fast-check'
import { type CheckContext, check, type Violation } from './checks.ts'
import { type KnownFailure, knownFailureOf } from './known-failures.ts'
import { type OpenApiDocument, type Operation, operationsOf, resolver } from './operations.ts'
import { type RequestSpec, requestArb } from './requests.ts'
import { type Answer, type Concrete, materialize, sendHttp, sendRaw, type Target, wireBytes } from './send.ts'

/** Requests are drawn and sent this many at a time; the users are checked in between. */
export const CHUNK = 500

/** The seed of the chunk holding request `index`: request `index` is run `index % CHUNK` of it. */
export function chunkSeed(seed: number, index: number): number {
  return (seed + Math.floor(index / CHUNK) * 7919) | 0
}

export interface FuzzOptions {
  label: string
  document: OpenApiDocument
  target: Target
  production: boolean
  bodyLimit: number
  seed: number
  runs: number
  concurrency: number
  timeBoundMs: number
}

export interface Failure {
  index: number
  spec: RequestSpec
  request: Concrete
  answer: Answer
  violations: Violation[]
  known: KnownFailure | undefined
}

export interface FuzzReport {
  sent: number
  ms: number
  /** Operation name (or `unrouted`) → status → count. */
  statuses: Map<string, Map<number, number>>
  failures: Failure[]
  knownMatched: Set<string>
  usersMade: number
  /** Operation name (or `unrouted`) → total milliseconds of its answers. */
  msByRoute: Map<string, number>
  /** The slowest answers, slowest first. */
  slowest: { ms: number; what: string }[]
}

const PARAM = /\{[^}]+\}/g

/** The operation a method and target reach (Fastify answers HEAD on every GET route). */
export function matcher(operations: Operation[]): (method: string, target: string) => Operation | undefined {
  const compiled = operations.map((operation) => ({
    operation,
    pattern: new RegExp(`^${operation.path.replace(PARAM, '[^/?]+')}$`),
  }))
  return (method, target) => {
    const path = target.split('?')[0]!
    const wanted = method === 'HEAD' ? 'GET' : method
    return compiled.find((c) => c.operation.method === wanted && c.pattern.test(path))?.operation
  }
}

export function arbitraryOf(options: Pick<FuzzOptions, 'document' | 'bodyLimit'>): fc.Arbitrary<RequestSpec> {
  return requestArb(operationsOf(options.document), options.bodyLimit)
}

async function sendOne(agent: http.Agent, target: Target, spec: RequestSpec, timeoutMs: number) {
  const request = materialize(spec, target)
  const answer =
    request.channel === 'raw'
      ? await sendRaw(target.port, request, timeoutMs)
      : await sendHttp(agent, target.port, request, timeoutMs)
  return { request, answer }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const operations = operationsOf(options.document)
  const find = matcher(operations)
  const resolve = resolver(options.document)
  const arbitrary = requestArb(operations, options.bodyLimit)
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const report: FuzzReport = {
    sent: 0,
    ms: 0,
    statuses: new Map(),
    failures: [],
    knownMatched: new Set(),
    usersMade: 0,
    slowest: [],
    msByRoute: new Map(),
  }
  const started = performance.now()
  try {
    for (let from = 0; from < options.runs; from += CHUNK) {
      // Drawn a chunk at a time (from a seed of its own), so the requests in memory are a chunk's.
      const chunk = fc.sample(arbitrary, {
        seed: chunkSeed(options.seed, from),
        numRuns: Math.min(CHUNK, options.runs - from),
      })
      let next = 0
      const worker = async () => {
        while (next < chunk.length) {
          const index = from + next
          const spec = chunk[next++]!
          const { request, answer } = await sendOne(agent, options.target, spec, options.timeBoundMs)
          report.sent++
          const route = spec.route
          const byStatus = report.statuses.get(route) ?? new Map<number, number>()
          byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1)
          report.statuses.set(route, byStatus)
          report.msByRoute.set(route, (report.msByRoute.get(route) ?? 0) + answer.ms)
          if (report.slowest.length < 10 || answer.ms > report.slowest[9]!.ms) {
            const what = `${answer.status} ${request.channel} ${JSON.stringify(request.method)} ${request.target.slice(0, 60)} [${spec.kind}; ${spec.auth.mode}]`
            report.slowest = [...report.slowest, { ms: answer.ms, what }]
              .sort((a, b) => b.ms - a.ms)
              .slice(0, 10)
          }
          const context: CheckContext = {
            production: options.production,
            timeBoundMs: options.timeBoundMs,
            operation: find(request.method.toUpperCase(), request.target),
            resolve,
          }
          const violations = check(spec, answer, context)
          if (violations.length === 0) continue
          const known = knownFailureOf(spec, request, answer, violations[0]!)
          if (known) report.knownMatched.add(known.id)
          report.failures.push({ index, spec, request, answer, violations, known })
        }
      }
      await Promise.all(Array.from({ length: options.concurrency }, worker))
      // The fuzz changes passwords and revokes sessions: later requests get working users again.
      await options.target.users.refresh()
    }
  } finally {
    agent.destroy()
  }
  report.ms = performance.now() - started
  report.usersMade = options.target.users.made()
  return report
}

/**
 * Replays request `index` of the seed alone, then lets fast-check shrink it while it keeps
 * breaking `rule`. Returns the smallest failing request, or null when it passes alone.
 */
export async function shrinkFailure(
  options: FuzzOptions,
  index: number,
  rule: string,
): Promise<string | null> {
  const operations = operationsOf(options.document)
  const find = matcher(operations)
  const resolve = resolver(options.document)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const result = await fc.check(
      fc.asyncProperty(requestArb(operations, options.bodyLimit), async (spec) => {
        const { request, answer } = await sendOne(agent, options.target, spec, options.timeBoundMs)
        const violations = check(spec, answer, {
          production: options.production,
          timeBoundMs: options.timeBoundMs,
          operation: find(request.method.toUpperCase(), request.target),
          resolve,
        })
        return !violations.some((v) => v.rule === rule)
      }),
      {
        seed: chunkSeed(options.seed, index),
        path: String(index % CHUNK),
        numRuns: CHUNK,
        interruptAfterTimeLimit: 20_000,
      },
    )
    if (!result.failed || !result.counterexample) return null
    const [spec] = result.counterexample
    return describeRequest(materialize(spec, options.target), spec)
  } finally {
    agent.destroy()
  }
}

const clip = (text: string, n: number) =>
  text.length > n ? `${text.slice(0, n)}… (${text.length} chars)` : text

/** A failing request, readable and replayable (its exact bytes, for `nc 127.0.0.1 PORT`). */
export function describeRequest(request: Concrete, spec: RequestSpec): string {
  const headers = request.headers.map(([n, v]) => `    ${clip(n, 80)}: ${clip(v, 160)}`).join('\n')
  const wire = wireBytes(request)
  return [
    `  ${request.channel} ${JSON.stringify(request.method)} ${clip(request.target, 200)}  [${spec.route}; ${spec.kind}; auth ${spec.auth.mode}]`,
    headers,
    spec.rawLines.length > 0 ? `    raw lines: ${JSON.stringify(spec.rawLines)}` : '',
    request.body.length > 0
      ? `    body (${request.body.length} bytes): ${clip(JSON.stringify(request.body.toString('latin1')), 300)}`
      : '',
    wire.length <= 6000
      ? `    replay: node -e "const s=require('net').connect(+process.argv[1],'127.0.0.1',()=>s.write(Buffer.from('${wire.toString('base64')}','base64')));s.pipe(process.stdout)" PORT`
      : `    (${wire.length} bytes on the wire: too long to print)`,
  ]
    .filter(Boolean)
    .join('\n')
}

export function describeFailure(failure: Failure, options: Pick<FuzzOptions, 'seed' | 'label'>): string {
  const answer = failure.answer
  return [
    `[${options.label}] request #${failure.index} (FUZZ_SEED=${options.seed})${failure.known ? ` known failure ${failure.known.id}` : ''}`,
    ...failure.violations.map((v) => `  ✗ ${v.rule}: ${v.detail}`),
    describeRequest(failure.request, failure.spec),
    `  answer: ${answer.status} in ${Math.round(answer.ms)} ms, content-type ${JSON.stringify(answer.headers['content-type'])}, body ${clip(JSON.stringify(answer.body.toString('utf8')), 200)}`,
  ].join('\n')
}
