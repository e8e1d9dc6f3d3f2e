import cluster, { type Worker } from 'node:cluster'
import { RateLimiterCompatibleAbstract, RateLimiterRes } from 'rate-limiter-flexible'
import { BoundedMemoryStore } from '../accounts/bounded-memory-store.ts'
import { MemoryLimiter } from '../accounts/memory-limiter.ts'
import {
  BLOCKED_POINTS,
  type MergeLimits,
  type SharedCounters,
  type SharedLimiterOptions,
} from '../accounts/shared-counters.ts'

/**
 * Throttle counters shared by the workers of one `serve --workers N` without Redis: they live in
 * the primary, in one bounded store, and the workers ask for them over node:cluster's IPC pipes.
 * A counter per worker would multiply the allowed guesses by N (issue 8; OWASP Authentication
 * Cheat Sheet, "Protect against automated attacks"). A worker whose primary does not answer in
 * time counts in its own memory meanwhile and writes back (src/accounts/shared-limiter.ts).
 */
const TAG = 'gatehouse:counters'
/** How long a worker waits for the primary before counting in its own memory. */
const DEFAULT_TIMEOUT_MS = 500
/** Distinct limiter settings the primary keeps a MemoryLimiter for (the server has a handful). */
const MAX_LIMITERS = 64

type Operation = 'consume' | 'penalty' | 'reward' | 'get' | 'set' | 'delete' | 'merge'

interface CounterRequest {
  type: typeof TAG
  id: number
  op: Operation
  /** The limiter's settings; the key, and `points`/`seconds` where the operation takes them. */
  limiter: SharedLimiterOptions
  key: string
  amount?: number
  seconds?: number
}

interface WireRes {
  remainingPoints: number
  msBeforeNext: number
  consumedPoints: number
  isFirstInDuration: boolean
}

interface CounterReply {
  type: typeof TAG
  id: number
  /** Resolved with `value`, or refused with `refusal` (over the limit), or failed. */
  value?: WireRes | boolean | null
  refusal?: WireRes
  error?: string
}

const OPERATIONS = new Set<Operation>(['consume', 'penalty', 'reward', 'get', 'set', 'delete', 'merge'])

function isRequest(message: unknown): message is CounterRequest {
  if (typeof message !== 'object' || message === null) return false
  const m = message as CounterRequest
  return (
    m.type === TAG &&
    Number.isSafeInteger(m.id) &&
    OPERATIONS.has(m.op) &&
    typeof m.key === 'string' &&
    typeof m.limiter === 'object' &&
    m.limiter !== null &&
    Number.isSafeInteger(m.limiter.points) &&
    Number.isSafeInteger(m.limiter.duration) &&
    typeof m.limiter.keyPrefix === 'string' &&
    (m.amount === undefined || Number.isSafeInteger(m.amount)) &&
    (m.seconds === undefined || typeof m.seconds === 'number')
  )
}

/**
 * The primary's word that it answers (or no longer answers) counter requests. A worker asks only
 * after hearing it: under a primary that is not ours (a process manager's cluster mode) every
 * request would otherwise wait out its timeout.
 */
interface Serving {
  type: typeof TAG
  serving: boolean
}

/** A worker asking whether the primary serves counters (it answers with Serving). */
interface Ask {
  type: typeof TAG
  ask: true
}

const isAsk = (message: unknown): message is Ask =>
  typeof message === 'object' &&
  message !== null &&
  (message as Ask).type === TAG &&
  (message as Ask).ask === true

const isServing = (message: unknown): message is Serving =>
  typeof message === 'object' &&
  message !== null &&
  (message as Serving).type === TAG &&
  typeof (message as Serving).serving === 'boolean'

const isReply = (message: unknown): message is CounterReply =>
  typeof message === 'object' &&
  message !== null &&
  (message as CounterReply).type === TAG &&
  Number.isSafeInteger((message as CounterReply).id)

const toWire = (res: RateLimiterRes): WireRes => ({
  remainingPoints: res.remainingPoints,
  msBeforeNext: res.msBeforeNext,
  consumedPoints: res.consumedPoints,
  isFirstInDuration: res.isFirstInDuration,
})

const fromWire = (res: WireRes): RateLimiterRes =>
  new RateLimiterRes(res.remainingPoints, res.msBeforeNext, res.consumedPoints, res.isFirstInDuration)

export interface ClusterCountersOptions {
  /** The most counters the primary keeps, all workers and limiters together; default 100 000. */
  maxKeys?: number
}

/**
 * In the primary: answers the workers' counter requests from one bounded memory store. Returns
 * the function that stops answering (the counts are then forgotten).
 */
export function serveClusterCounters(options: ClusterCountersOptions = {}): () => void {
  const store = new BoundedMemoryStore({ maxKeys: options.maxKeys })
  const limiters = new Map<string, MemoryLimiter>()
  const limiterFor = ({ points, duration, keyPrefix }: SharedLimiterOptions): MemoryLimiter => {
    const id = `${points}\0${duration}\0${keyPrefix}`
    let limiter = limiters.get(id)
    if (!limiter) {
      limiter = new MemoryLimiter(store, { points, duration, keyPrefix })
      if (limiters.size < MAX_LIMITERS) limiters.set(id, limiter)
    }
    return limiter
  }
  const answer = async (request: CounterRequest): Promise<CounterReply> => {
    const reply = { type: TAG, id: request.id } as const
    const { key, amount, seconds } = request
    if (request.op === 'merge') {
      merge(store, key, amount ?? 0, seconds ?? 0, {
        limit: request.limiter.points,
        blockMs: (request.limiter.blockSeconds ?? 0) * 1000,
      })
      return { ...reply, value: true }
    }
    const limiter = limiterFor(request.limiter)
    try {
      switch (request.op) {
        case 'consume':
          return { ...reply, value: toWire(await limiter.consume(key, amount)) }
        case 'penalty':
          return { ...reply, value: toWire(await limiter.penalty(key, amount)) }
        case 'reward':
          return { ...reply, value: toWire(await limiter.reward(key, amount)) }
        case 'set':
          return { ...reply, value: toWire(await limiter.set(key, amount ?? 0, seconds ?? 0)) }
        case 'get': {
          const res = await limiter.get(key)
          return { ...reply, value: res ? toWire(res) : null }
        }
        case 'delete':
          return { ...reply, value: await limiter.delete(key) }
      }
    } catch (error) {
      if (error instanceof RateLimiterRes) return { ...reply, refusal: toWire(error) }
      return { ...reply, error: error instanceof Error ? error.message : 'counter error' }
    }
  }
  const tell = (worker: Worker | undefined, serving: boolean) => {
    // A worker that is exiting may refuse: it no longer asks.
    if (worker?.isConnected()) {
      worker.send({ type: TAG, serving } satisfies Serving, (error: Error | null) => void error)
    }
  }
  const onMessage = (worker: Worker, message: unknown) => {
    if (isAsk(message)) return tell(worker, true)
    if (!isRequest(message)) return
    void answer(message).then((reply) => {
      if (worker.isConnected()) worker.send(reply, (error: Error | null) => void error)
    })
  }
  cluster.on('message', onMessage)
  // Workers started earlier asked before anyone answered: tell them (the others will ask).
  for (const worker of Object.values(cluster.workers ?? {})) tell(worker, true)
  return () => {
    cluster.off('message', onMessage)
    for (const worker of Object.values(cluster.workers ?? {})) tell(worker, false)
  }
}

/**
 * The write-back of a worker's outage count: added, expiry the later one, and a sum reaching the
 * limit a block (SharedCounters.merge).
 */
function merge(
  store: BoundedMemoryStore,
  rlKey: string,
  points: number,
  ms: number,
  limits: MergeLimits,
): void {
  const { limit, blockMs } = limits
  const current = store.get(rlKey)
  const total = (current?.points ?? 0) + points
  if (total <= 0) return
  if (blockMs > 0 && total >= limit && total <= BLOCKED_POINTS / 2) {
    store.set(rlKey, BLOCKED_POINTS, blockMs, limit)
    return
  }
  const never = ms < 0 || current?.msBeforeNext === -1
  const later = Math.max(ms, current?.msBeforeNext ?? 0)
  // BoundedMemoryStore's 0 is "never expires".
  store.set(rlKey, total, never ? 0 : Math.max(later, 1), limit)
}

interface Waiting {
  resolve: (reply: CounterReply) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

export interface WorkerCountersOptions {
  /** How long to wait for the primary before counting locally; default 500 ms. */
  timeoutMs?: number
}

/**
 * In a worker: the counters of the primary (serveClusterCounters), as SharedCounters for
 * createAccountLimiters. A request fails at once while the primary has not said it serves them,
 * and after the primary let one time out, for as long again (nobody waits on a stuck primary
 * twice in a row); the limiter then counts in this worker's memory and writes back later.
 */
export function clusterCounters(options: WorkerCountersOptions = {}): SharedCounters {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  // One per process and timeout: each listens on the pipe, and they would all hear every reply.
  let counters = workerCounters.get(timeoutMs)
  if (!counters) {
    counters = connectToPrimary(timeoutMs)
    workerCounters.set(timeoutMs, counters)
  }
  return counters
}

const workerCounters = new Map<number, SharedCounters>()

function connectToPrimary(timeoutMs: number): SharedCounters {
  const waiting = new Map<number, Waiting>()
  let nextId = 0
  let served = false
  let quietUntil = 0
  const finish = (id: number): Waiting | undefined => {
    const entry = waiting.get(id)
    if (!entry) return undefined
    clearTimeout(entry.timer)
    waiting.delete(id)
    return entry
  }
  // A cluster worker's IPC pipe keeps it alive anyway: listening costs nothing more.
  process.on('message', (message: unknown) => {
    if (isServing(message)) served = message.serving
    else if (isReply(message)) finish(message.id)?.resolve(message)
  })
  process.on('disconnect', () => {
    served = false
    for (const id of [...waiting.keys()]) finish(id)?.reject(new Error('cluster primary gone'))
  })
  if (process.connected && process.send) {
    process.send({ type: TAG, ask: true } satisfies Ask, undefined, {}, (error: Error | null) => void error)
  }
  const request = (fields: Omit<CounterRequest, 'type' | 'id'>): Promise<CounterReply> =>
    new Promise((resolve, reject) => {
      if (!process.connected || process.send === undefined) {
        return reject(new Error('no cluster primary'))
      }
      if (!served) return reject(new Error('the cluster primary serves no counters'))
      if (Date.now() < quietUntil) return reject(new Error('the cluster primary is not answering'))
      const id = nextId++
      const timer = setTimeout(() => {
        quietUntil = Date.now() + timeoutMs
        finish(id)?.reject(new Error('cluster primary did not answer in time'))
      }, timeoutMs)
      timer.unref()
      waiting.set(id, { resolve, reject, timer })
      const message: CounterRequest = { type: TAG, id, ...fields }
      try {
        process.send(message, undefined, {}, (error: Error | null) => {
          if (error) finish(id)?.reject(error)
        })
      } catch (error) {
        finish(id)?.reject(error instanceof Error ? error : new Error(String(error)))
      }
    })
  return {
    limiter: (settings) => new ClusterLimiter(settings, request),
    async merge(rlKey, points, msBeforeNext, { limit, blockMs }) {
      // The full key travels as is: a limiter with no prefix keeps it.
      const reply = await request({
        op: 'merge',
        limiter: { points: limit, duration: 0, keyPrefix: '', blockSeconds: blockMs / 1000 },
        key: rlKey,
        amount: points,
        seconds: msBeforeNext,
      })
      if (reply.error !== undefined) throw new Error(reply.error)
    },
  }
}

type Request = (fields: Omit<CounterRequest, 'type' | 'id'>) => Promise<CounterReply>

/** rate-limiter-flexible's limiter interface, answered by the primary. */
class ClusterLimiter extends RateLimiterCompatibleAbstract {
  override readonly keyPrefix: string
  override blockDuration = 0
  override execEvenly = false
  readonly #settings: SharedLimiterOptions
  readonly #request: Request

  constructor(settings: SharedLimiterOptions, request: Request) {
    super()
    this.#settings = { ...settings }
    this.keyPrefix = settings.keyPrefix
    this.#request = request
  }

  override consume(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#res('consume', key, points)
  }

  override penalty(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#res('penalty', key, points)
  }

  override reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#res('reward', key, points)
  }

  override async get(key: string | number): Promise<RateLimiterRes | null> {
    const value = await this.#value('get', key)
    return value && typeof value === 'object' ? fromWire(value) : null
  }

  override set(key: string | number, points: number, secDuration: number): Promise<RateLimiterRes> {
    return this.#res('set', key, points, secDuration)
  }

  override block(key: string | number, secDuration: number): Promise<RateLimiterRes> {
    return this.set(key, this.#settings.points + 1, secDuration)
  }

  override async delete(key: string | number): Promise<boolean> {
    return (await this.#value('delete', key)) === true
  }

  async #res(
    op: Operation,
    key: string | number,
    amount?: number,
    seconds?: number,
  ): Promise<RateLimiterRes> {
    const value = await this.#value(op, key, amount, seconds)
    if (!value || typeof value !== 'object') throw new Error(`cluster counters: no answer to ${op}`)
    return fromWire(value)
  }

  async #value(op: Operation, key: string | number, amount?: number, seconds?: number) {
    const reply = await this.#request({ op, limiter: this.#settings, key: String(key), amount, seconds })
    if (reply.refusal) throw fromWire(reply.refusal)
    if (reply.error !== undefined) throw new Error(reply.error)
    return reply.value
  }
}
