/**
 * Memory the login throttle keeps for refused guesses: one client, already blocked by the per-IP
 * limit, sends POST /token with a new email each time. The same number of requests with the same
 * body shape to a path that never reaches the throttle (an unsupported grant_type, 400) is the
 * baseline, in the same server process, measured after a full GC each time. Then the worst case
 * the bound allows: a store filled past `maxKeys` (every attempt let through, new keys each time).
 * Usage: npx tsx bench/throttle-memory.ts  (BENCH_REQUESTS=150000 BENCH_CONNECTIONS=16)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { BoundedMemoryStore } from '../src/accounts/bounded-memory-store.ts'

const requests = Number(process.env.BENCH_REQUESTS ?? 150_000)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const MB = 1024 * 1024

interface Memory {
  rss: number
  heapUsed: number
}

/** The server side: Gatehouse with its defaults on SQLite, reporting its memory when asked. */
async function serve(): Promise<void> {
  const { buildApp } = await import('../src/server/build-app.ts')
  const { loadConfig } = await import('../src/server/config.ts')
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-throttle-memory-'))
  const app = await buildApp(
    loadConfig({
      DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
      GATEHOUSE_SECRET: 'bench-secret-bench-secret-bench-secret',
      PRUNE_INTERVAL_SECONDS: '0',
    }),
    { logger: false },
  )
  await app.listen({ host: '127.0.0.1', port: 0 })
  const gc = globalThis.gc
  if (!gc) throw new Error('the server needs --expose-gc')
  process.on('message', (message) => {
    if (message === 'measure') {
      for (let i = 0; i < 4; i++) gc()
      const { rss, heapUsed } = process.memoryUsage()
      process.send?.({ rss, heapUsed })
    } else if (message === 'fill') {
      process.send?.(fillStore(gc))
    } else if (message === 'stop') {
      app.close().finally(() => {
        rmSync(dir, { recursive: true, force: true })
        process.exit(0)
      })
    }
  })
  process.send?.({ port: (app.server.address() as { port: number }).port })
}

/** Heap held by a full store of the default size, keys shaped like the login throttle's. */
function fillStore(gc: () => void): { keys: number; held: number; heapUsed: number } {
  for (let i = 0; i < 4; i++) gc()
  const before = process.memoryUsage().heapUsed
  const store = new BoundedMemoryStore()
  for (let i = 0; i < store.maxKeys * 1.5; i++) {
    const key = `gatehouse:login:account:${createHash('sha256').update(String(i)).digest('base64url')}`
    store.add(key, 1, 86_400_000, 10)
  }
  for (let i = 0; i < 4; i++) gc()
  const heapUsed = process.memoryUsage().heapUsed - before
  return { keys: store.maxKeys * 1.5, held: store.size, heapUsed }
}

function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join('bench', 'throttle-memory.ts'), '--server'],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, port: (message as { port: number }).port }))
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before it was ready`)))
  })
}

function ask<T>(child: ChildProcess, question: 'measure' | 'fill'): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as T))
    child.send(question)
  })
}
const measure = (child: ChildProcess) => ask<Memory>(child, 'measure')

let sequence = 0
/** `amount` POST /token requests, each with an email never used before; returns the statuses seen. */
async function flood(port: number, amount: number, grantType: string): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {}
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    amount,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (request) => {
          sequence += 1
          request.body = `grant_type=${grantType}&username=guess${sequence}%40example.com&password=wrong-password`
          return request
        },
        onResponse: (status) => {
          statuses[status] = (statuses[status] ?? 0) + 1
        },
      },
    ],
  })
  if (result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${result.errors} errors, ${result.timeouts} timeouts`)
  }
  return statuses
}

function expectOnly(statuses: Record<string, number>, status: number, amount: number, what: string) {
  if (statuses[status] !== amount || Object.keys(statuses).length !== 1) {
    throw new Error(`${what}: expected ${amount} × ${status}, got ${JSON.stringify(statuses)}`)
  }
}

async function main(): Promise<void> {
  const { child, port } = await startServer()
  try {
    // Block this client (127.0.0.1) with the default per-IP limit: 100 failures in 15 minutes.
    const blocking = await flood(port, 100, 'password')
    expectOnly(blocking, 401, 100, 'blocking the client')
    // Warm-up of both paths (JIT, buffers, pools), not counted.
    expectOnly(await flood(port, 10_000, 'client_credentials'), 400, 10_000, 'warm-up')
    expectOnly(await flood(port, 10_000, 'password'), 429, 10_000, 'warm-up')

    const start = await measure(child)
    expectOnly(await flood(port, requests, 'client_credentials'), 400, requests, 'baseline')
    const afterBaseline = await measure(child)
    expectOnly(await flood(port, requests, 'password'), 429, requests, 'blocked guesses')
    const afterThrottle = await measure(child)

    const growth = (from: Memory, to: Memory) => ({
      rss: to.rss - from.rss,
      heapUsed: to.heapUsed - from.heapUsed,
    })
    const baseline = growth(start, afterBaseline)
    const throttle = growth(afterBaseline, afterThrottle)
    const row = (label: string, m: Memory) =>
      console.log(
        `${label.padEnd(52)} RSS ${(m.rss / MB).toFixed(1).padStart(6)} MB` +
          `   heap ${(m.heapUsed / MB).toFixed(1).padStart(6)} MB`,
      )
    console.log(`requests=${requests} connections=${connections} node=${process.version}`)
    row('after warm-up (absolute)', start)
    row(`baseline: ${requests} × 400 (unsupported grant_type)`, baseline)
    row(`throttle: ${requests} × 429 (blocked IP, new emails)`, throttle)
    row('throttle minus baseline', growth(baseline, throttle))
    const full = await ask<{ keys: number; held: number; heapUsed: number }>(child, 'fill')
    console.log(
      `a store given ${full.keys} new keys holds ${full.held}: heap ${(full.heapUsed / MB).toFixed(1)} MB` +
        ` (${(full.heapUsed / full.held).toFixed(0)} B a key)`,
    )
  } finally {
    child.send('stop')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

if (process.argv.includes('--server')) await serve()
else await main()
