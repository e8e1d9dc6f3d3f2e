import cluster, { type Worker } from 'node:cluster'
import { availableParallelism, hostname } from 'node:os'
import { openMigratedStore } from '../store/migrate.ts'
import { serveClusterCounters } from './cluster-counters.ts'
import type { GatehouseConfig } from './config.ts'
import type { ServeOptions } from './main.ts'
import { relayClusterRevocations } from './revocation-cluster.ts'

/**
 * `gatehouse serve --workers N`: one primary process that owns the port (node:cluster hands each
 * new connection to a worker in turn) and N workers that each run the usual `serve`. The primary
 * serves no request: it migrates, forks, respawns, relays revocations between the workers, keeps
 * the shared login-throttle counters when there is no Redis, and drains every worker on a signal.
 */

/** Which worker this is, 0..N-1; a respawned worker takes the slot of the one it replaces. */
const SLOT_VARIABLE = 'GATEHOUSE_WORKER_SLOT'
/**
 * A worker that dies before it listens, or sooner than this after, crashed "fast": a start-up
 * failure or a fault that hits at once. Counted from listening, not from the fork, so a start-up
 * slowed by a busy machine is not mistaken for a worker that ran.
 */
export const FAST_CRASH_MS = 10_000
/** This many fast crashes in a row of one slot: the fault will not go away by itself. */
export const MAX_FAST_CRASHES = 5
const FIRST_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 8000
/** Beyond SHUTDOWN_TIMEOUT_SECONDS: a worker's forced close grace (1 s) and process exit. */
const EXIT_MARGIN_MS = 3000

/** `--workers` / WORKERS: `auto` is one per core; else 1 to 256 (1: no cluster). */
export function parseWorkers(value: string): number {
  if (value === 'auto') return availableParallelism()
  const count = Number(value)
  if (!/^\d+$/.test(value) || count < 1 || count > 256) {
    throw new RangeError(`--workers must be auto or an integer between 1 and 256 (got "${value}")`)
  }
  return count
}

/** In a worker: only the worker of slot 0 runs the demo front end (one port, one process). */
export function workerServeOptions(): ServeOptions {
  return { demo: process.env[SLOT_VARIABLE] === '0' }
}

/**
 * After a worker died outside a shutdown: its slot's fast-crash count and how long to wait before
 * forking it again (exponential back-off from 250 ms, capped at 8 s), or null to give up.
 * `listenedForMs` is null when it never listened.
 */
export function afterCrash(
  previousFastCrashes: number,
  listenedForMs: number | null,
): { fastCrashes: number; delayMs: number } | null {
  const fast = listenedForMs === null || listenedForMs < FAST_CRASH_MS
  if (!fast) return { fastCrashes: 0, delayMs: 0 }
  const fastCrashes = previousFastCrashes + 1
  if (fastCrashes >= MAX_FAST_CRASHES) return null
  return { fastCrashes, delayMs: Math.min(FIRST_BACKOFF_MS * 2 ** (fastCrashes - 1), MAX_BACKOFF_MS) }
}

type Level = 'info' | 'warn' | 'error'
const LEVELS: Record<Level, number> = { info: 30, warn: 40, error: 50 }

/** Pino's JSON line shape, so the primary's lines sit with the workers' in one log. */
function primaryLogger(level: string) {
  const threshold = LEVELS[level as Level] ?? (level === 'debug' || level === 'trace' ? 0 : 30)
  const host = hostname()
  return (at: Level, fields: Record<string, unknown>, msg: string) => {
    if (LEVELS[at] < threshold) return
    const line = { level: LEVELS[at], time: Date.now(), pid: process.pid, hostname: host, role: 'primary' }
    process.stdout.write(`${JSON.stringify({ ...line, ...fields, msg })}\n`)
  }
}

interface Slot {
  index: number
  worker: Worker | null
  /** When its current worker started listening; null until it does. */
  listeningAt: number | null
  fastCrashes: number
  respawn: NodeJS.Timeout | undefined
}

/** Runs the primary until every worker has exited after a signal (or a slot gave up). */
export async function serveCluster(config: GatehouseConfig, count: number): Promise<void> {
  const log = primaryLogger(config.logLevel)
  // Once, here: N workers migrating the same database at once would race for its lock.
  const { store, applied } = await openMigratedStore(config.databaseUrl, {
    timeoutSeconds: config.databaseTimeoutSeconds,
    poolSize: 1,
  })
  await store.close()
  if (applied.length > 0) log('info', { applied }, 'migrated')

  const stopCounters = serveClusterCounters()
  const stopRelay = relayClusterRevocations()
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({
    index,
    worker: null,
    listeningAt: null,
    fastCrashes: 0,
    respawn: undefined,
  }))
  let stopping = false
  let exitCode = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })

  const fork = (slot: Slot) => {
    slot.respawn = undefined
    slot.listeningAt = null
    const worker = cluster.fork({ [SLOT_VARIABLE]: String(slot.index) })
    slot.worker = worker
    worker.once('exit', (code, signal) => onExit(slot, worker, code, signal))
  }

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    slot.worker = null
    const pid = worker.process.pid
    if (stopping) {
      // A worker signalled before it could install its drain ends by the signal: it served nothing.
      if (code !== 0 && signal === null) exitCode = 1
      log(
        code === 0 || signal !== null ? 'info' : 'warn',
        { slot: slot.index, worker: pid, code, signal },
        'worker exited',
      )
      if (slots.every((s) => s.worker === null)) done()
      return
    }
    const listenedForMs = slot.listeningAt === null ? null : Date.now() - slot.listeningAt
    const next = afterCrash(slot.fastCrashes, listenedForMs)
    if (next === null) {
      log(
        'error',
        { slot: slot.index, worker: pid, code, signal, crashes: MAX_FAST_CRASHES },
        `worker died ${MAX_FAST_CRASHES} times in a row before or within ${FAST_CRASH_MS / 1000} s of listening: giving up`,
      )
      stop('worker crash loop', 1)
      return
    }
    slot.fastCrashes = next.fastCrashes
    log(
      'warn',
      { slot: slot.index, worker: pid, code, signal, listenedForMs, respawnInMs: next.delayMs },
      'worker died',
    )
    slot.respawn = setTimeout(() => fork(slot), next.delayMs)
  }

  const stop = (reason: string, code: number) => {
    if (stopping) {
      log('warn', { reason }, 'already draining; the deadline still holds')
      return
    }
    stopping = true
    exitCode = code
    const live = slots.filter((slot) => slot.worker !== null)
    log('info', { reason, workers: live.length }, 'draining the workers')
    for (const slot of slots) clearTimeout(slot.respawn)
    // Each worker drains itself (drain.ts) within SHUTDOWN_TIMEOUT_SECONDS.
    for (const slot of live) slot.worker?.process.kill('SIGTERM')
    if (live.length === 0) return done()
    setTimeout(
      () => {
        const left = slots.filter((slot) => slot.worker !== null)
        log('error', { workers: left.length }, 'workers still running past the deadline: killing them')
        for (const slot of left) slot.worker?.process.kill('SIGKILL')
        exitCode = 1
        done()
      },
      config.shutdownTimeoutSeconds * 1000 + EXIT_MARGIN_MS,
    ).unref()
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal, 0))
  cluster.on('listening', (worker, address) => {
    const slot = slots.find((s) => s.worker === worker)
    // The demo front end listens too: the API port (the first) is what counts.
    if (slot && slot.listeningAt === null) slot.listeningAt = Date.now()
    log('info', { slot: slot?.index, worker: worker.process.pid, port: address.port }, 'worker listening')
  })
  log('info', { workers: count, port: config.port }, `starting ${count} workers`)
  for (const slot of slots) fork(slot)

  await finished
  stopRelay()
  stopCounters()
  log(exitCode === 0 ? 'info' : 'error', { exitCode }, 'all workers exited')
  process.exit(exitCode)
}
