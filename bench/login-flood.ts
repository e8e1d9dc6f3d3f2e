/**
 * Authenticated GET /protected-route throughput idle, then under a saturating flood of valid
 * logins, on the real server (SQLite, GATEHOUSE_ENV=production defaults), with hash admission on
 * (the defaults) and, as the "before" figure of the same run, effectively off (LOGIN_CONCURRENCY
 * and LOGIN_QUEUE_SIZE at their maxima); and a third server hashing at the event loop's priority
 * (LOGIN_HASH_NICENESS=0), to show what the niced hashing threads give. Three processes: the server, autocannon (this one) and
 * the flood client, so none of them measures itself; all share this machine's cores.
 * Two kinds of flood, each keeping FLOOD_CONCURRENCY logins in flight: clients that send the next
 * login as soon as one is answered, shed or not (an attacker: a request flood on top of the hash
 * flood), and clients that honour Retry-After (a crowd: the hash slots stay saturated).
 * Usage: npx tsx bench/login-flood.ts  (BENCH_SECONDS=5 BENCH_CONNECTIONS=32 FLOOD_CONCURRENCY=64;
 * LOGIN_CONCURRENCY / LOGIN_QUEUE_SIZE / LOGIN_HASH_NICENESS set the admitted server's bounds)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { saveResult } from './results.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32)
const floodConcurrency = Number(process.env.FLOOD_CONCURRENCY ?? 64)
/** A login with no answer after this is counted as hung. */
const HANG_MS = 15_000
const PASSWORD = 'bench-flood-password'
/** Flood connections share accounts, 8 each: under the per-account limit of 10 in flight. */
const ACCOUNTS = Math.ceil(floodConcurrency / 8)
const floodEmail = (i: number) => `flood${i % ACCOUNTS}@example.com`
const BENCH_EMAIL = 'bench@example.com'

// ---------------------------------------------------------------- server (child process)

async function serve(): Promise<void> {
  const { buildApp } = await import('../src/server/build-app.ts')
  const { loadConfig } = await import('../src/server/config.ts')
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-flood-'))
  const config = loadConfig({
    GATEHOUSE_ENV: 'production',
    DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
    GATEHOUSE_SECRET: 'bench-secret-bench-secret-bench-secret',
    ALLOWED_HOSTS: '127.0.0.1,localhost',
    ACCOUNT_EMAILS: '0',
    // The bench registers its flood accounts from one address.
    REGISTER_MAX_PER_IP: '0',
    ...(process.env.LOGIN_CONCURRENCY ? { LOGIN_CONCURRENCY: process.env.LOGIN_CONCURRENCY } : {}),
    ...(process.env.LOGIN_QUEUE_SIZE ? { LOGIN_QUEUE_SIZE: process.env.LOGIN_QUEUE_SIZE } : {}),
    ...(process.env.LOGIN_HASH_NICENESS ? { LOGIN_HASH_NICENESS: process.env.LOGIN_HASH_NICENESS } : {}),
  })
  const app = await buildApp(config, { logger: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  for (const email of [BENCH_EMAIL, ...Array.from({ length: ACCOUNTS }, (_, i) => floodEmail(i))]) {
    const response = await app.inject({
      method: 'POST',
      url: '/register',
      payload: { email, password: PASSWORD },
    })
    if (response.statusCode !== 201) throw new Error(`register: ${response.statusCode} ${response.body}`)
  }
  const login = await app.inject({
    method: 'POST',
    url: '/token',
    payload: `username=${encodeURIComponent(BENCH_EMAIL)}&password=${PASSWORD}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  console.log(`READY ${(app.server.address() as { port: number }).port} ${login.json().access_token}`)
  const stop = async () => {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, stop)
}

// ---------------------------------------------------------------- flood client (child process)

interface FloodStats {
  logins: number
  statuses: Record<string, number>
  hung: number
  p50Ms: number
  p99Ms: number
  servedP50Ms: number
  servedP99Ms: number
  maxMs: number
  /** CPU this flood client burnt (it shares the machine with the server). */
  clientCpuMs: number
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number)

async function flood(port: number, durationMs: number, honourRetryAfter: boolean): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: floodConcurrency })
  const latencies: number[] = []
  const served: number[] = []
  const statuses: Record<string, number> = {}
  let hung = 0
  const cpuBefore = process.cpuUsage()
  const deadline = performance.now() + durationMs
  console.log('FLOODING')
  const login = (i: number) =>
    new Promise<{ status: number; retryAfter: number }>((resolve) => {
      const body = `username=${encodeURIComponent(floodEmail(i))}&password=${PASSWORD}`
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/token',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume()
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 0) }),
          )
        },
      )
      req.setTimeout(HANG_MS, () => {
        hung++
        req.destroy()
      })
      req.on('error', () => resolve({ status: -1, retryAfter: 0 }))
      req.end(body)
    })
  await Promise.all(
    Array.from({ length: floodConcurrency }, async (_, i) => {
      while (performance.now() < deadline) {
        const started = performance.now()
        const { status, retryAfter } = await login(i)
        const took = performance.now() - started
        if (honourRetryAfter && retryAfter > 0) {
          await new Promise((resolve) =>
            setTimeout(resolve, Math.min(retryAfter * 1000, deadline - performance.now())),
          )
        }
        latencies.push(took)
        if (status === 200) served.push(took)
        statuses[status] = (statuses[status] ?? 0) + 1
      }
    }),
  )
  agent.destroy()
  latencies.sort((a, b) => a - b)
  served.sort((a, b) => a - b)
  const stats: FloodStats = {
    logins: latencies.length,
    statuses,
    hung,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    servedP50Ms: percentile(served, 0.5),
    servedP99Ms: percentile(served, 0.99),
    maxMs: latencies.at(-1) ?? 0,
    clientCpuMs: (() => {
      const used = process.cpuUsage(cpuBefore)
      return (used.user + used.system) / 1000
    })(),
  }
  console.log(`STATS ${JSON.stringify(stats)}`)
}

// ---------------------------------------------------------------- the run (this process)

const self = fileURLToPath(import.meta.url)
/*
 * Each child in its own session (`detached`: setsid), so Linux's autogroup scheduling treats the
 * server, the flood client and autocannon as three parties, as on separate machines, instead of
 * one group whose share the flood and argon2 would take from the measured route.
 */
const child = (args: string[], env: Record<string, string> = {}) =>
  spawn(process.execPath, ['--import', 'tsx', self, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
    detached: true,
  })

async function firstLine(process_: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  const lines = createInterface({ input: process_.stdout! })
  for await (const line of lines) {
    const match = pattern.exec(line)
    if (match) return match
  }
  throw new Error(`a child exited before printing ${pattern}`)
}

interface Server {
  label: string
  child: ChildProcess
  url: string
  token: string
  port: number
}

async function startServer(label: string, env: Record<string, string>): Promise<Server> {
  const server = child(['serve'], env)
  const [, port, token] = await firstLine(server, /^READY (\d+) (\S+)$/)
  return {
    label,
    child: server,
    url: `http://127.0.0.1:${port}/protected-route`,
    token: token as string,
    port: Number(port),
  }
}

/** CPU seconds the server process (all its threads) has used so far; Linux only, else NaN. */
function serverCpuSeconds(server: Server): number {
  try {
    const fields = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

async function protectedRoute(server: Server, duration: number) {
  const cpuBefore = serverCpuSeconds(server)
  const result = await autocannon({
    url: server.url,
    connections,
    duration,
    headers: { authorization: `Bearer ${server.token}` },
  })
  return {
    rps: result.requests.average,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    // Share of one core the server got during the window (argon2's thread included).
    serverCores: (serverCpuSeconds(server) - cpuBefore) / duration,
  }
}

type Flood = 'immediate' | 'retry-after'

/** A flood client started ahead (tsx takes seconds to start on a loaded machine), waiting for "go". */
function floodClient() {
  const process_ = spawn(process.execPath, ['--import', 'tsx', self, 'flood'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    detached: true,
  })
  const lines = createInterface({ input: process_.stdout! })[Symbol.asyncIterator]()
  const next = async (pattern: RegExp) => {
    for (let line = await lines.next(); !line.done; line = await lines.next()) {
      const match = pattern.exec(line.value)
      if (match) return match
    }
    throw new Error(`the flood client exited before printing ${pattern}`)
  }
  const ready = next(/^WAITING$/)
  return {
    async run(server: Server, kind: Flood) {
      await ready
      // The flood runs a second before and half a second after the measured window.
      process_.stdin!.end(`${server.port} ${(seconds + 1.5) * 1000} ${kind}\n`)
      await next(/^FLOODING$/)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const stats = next(/^STATS (.+)$/)
      const route = await protectedRoute(server, seconds)
      return { route, logins: JSON.parse((await stats)[1] as string) as FloodStats }
    },
    kill: () => process_.kill(),
  }
}

type FloodClient = ReturnType<typeof floodClient>

async function measure(server: Server, floods: [Flood, FloodClient][]) {
  await protectedRoute(server, 1) // warm-up: JIT and SQLite page cache
  const idle = await protectedRoute(server, seconds)
  const results: Partial<Record<Flood, Awaited<ReturnType<FloodClient['run']>> & { ratio: number }>> = {}
  for (const [kind, client] of floods) {
    const result = await client.run(server, kind)
    results[kind] = { ...result, ratio: result.route.rps / idle.rps }
  }
  return { idle, floods: results }
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] as number
  const clients = [floodClient(), floodClient(), floodClient(), floodClient()] as const
  const servers = await Promise.all([
    startServer(
      `admission on (LOGIN_CONCURRENCY=${process.env.LOGIN_CONCURRENCY ?? 'default'}, LOGIN_QUEUE_SIZE=${process.env.LOGIN_QUEUE_SIZE ?? 'default'})`,
      {},
    ),
    // The "before": the bounds at their maxima, i.e. every login hashed as it comes, at normal priority.
    startServer('admission off', {
      LOGIN_CONCURRENCY: '1024',
      LOGIN_QUEUE_SIZE: '100000',
      LOGIN_HASH_NICENESS: '0',
    }),
    // The hashing at the event loop's priority (libuv's pool, as before LOGIN_HASH_NICENESS).
    startServer('admission on, hashing at normal priority (LOGIN_HASH_NICENESS=0)', {
      LOGIN_HASH_NICENESS: '0',
    }),
  ])
  try {
    const on = await measure(servers[0] as Server, [
      ['immediate', clients[0]],
      ['retry-after', clients[1]],
    ])
    const off = await measure(servers[1] as Server, [['immediate', clients[2]]])
    const unniced = await measure(servers[2] as Server, [['retry-after', clients[3]]])
    console.log(
      `cores=${cpus().length} load(1m) before=${loadBefore.toFixed(2)} after=${(loadavg()[0] as number).toFixed(2)} ` +
        `node=${process.version} seconds=${seconds} connections=${connections} flood=${floodConcurrency}`,
    )
    let failed = false
    for (const [server, r] of [
      [servers[0], on],
      [servers[1], off],
      [servers[2], unniced],
    ] as const) {
      console.log(
        `\n${server?.label}: GET /protected-route idle ${r.idle.rps.toFixed(0)} req/s (server used ${r.idle.serverCores.toFixed(2)} cores)`,
      )
      for (const [kind, f] of Object.entries(r.floods)) {
        const l = f.logins
        const errors = f.route.non2xx + f.route.errors + r.idle.non2xx + r.idle.errors
        failed ||= errors > 0 || l.hung > 0
        console.log(
          `  flood (${kind}): ${f.route.rps.toFixed(0)} req/s, ratio ${f.ratio.toFixed(2)}, route errors ${errors} ` +
            `(server used ${f.route.serverCores.toFixed(2)} cores, the flood client ${(l.clientCpuMs / 1000 / (seconds + 1.5)).toFixed(2)})`,
        )
        console.log(
          `    POST /token ${l.logins} answered (${Object.entries(l.statuses)
            .map(([status, n]) => `${n}× ${status}`)
            .join(', ')}), hung ${l.hung}; p50 ${l.p50Ms.toFixed(0)} ms, p99 ${l.p99Ms.toFixed(0)} ms, ` +
            `max ${l.maxMs.toFixed(0)} ms; served (200) p50 ${l.servedP50Ms.toFixed(0)} ms, p99 ${l.servedP99Ms.toFixed(0)} ms`,
        )
      }
    }
    const immediate = on.floods.immediate as NonNullable<typeof on.floods.immediate>
    const immediateOff = off.floods.immediate as NonNullable<typeof off.floods.immediate>
    const retryAfter = on.floods['retry-after'] as NonNullable<typeof on.floods.immediate>
    const retryAfterUnniced = unniced.floods['retry-after'] as NonNullable<typeof on.floods.immediate>
    // floodRps: the hash slots saturated by clients that honour Retry-After; the flood that ignores
    // it is a plain request flood on top (its figure is kept beside it). Without admission nothing
    // is shed, so both floods are the same there.
    saveResult('login-flood', {
      seconds,
      connections,
      floodConcurrency,
      loginConcurrency: process.env.LOGIN_CONCURRENCY ?? 'default',
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg()[0],
      idleRps: on.idle.rps,
      floodRps: retryAfter.route.rps,
      ratio: retryAfter.ratio,
      floodRpsIgnoringRetryAfter: immediate.route.rps,
      ratioIgnoringRetryAfter: immediate.ratio,
      idleRpsWithoutAdmission: off.idle.rps,
      floodRpsWithoutAdmission: immediateOff.route.rps,
      ratioWithoutAdmission: immediateOff.ratio,
      logins: retryAfter.logins,
      loginsIgnoringRetryAfter: immediate.logins,
      loginsWithoutAdmission: immediateOff.logins,
      ratioHashingAtNormalPriority: retryAfterUnniced.ratio,
      loginsHashingAtNormalPriority: retryAfterUnniced.logins,
    })
    if (failed) process.exitCode = 1
  } finally {
    for (const server of servers) server.child.kill()
    for (const client of clients) client.kill()
  }
}

const [mode] = process.argv.slice(2)
if (mode === 'serve') await serve()
else if (mode === 'flood') {
  console.log('WAITING')
  const [line] = await createInterface({ input: process.stdin })
    [Symbol.asyncIterator]()
    .next()
    .then((r) => [r.value as string])
  const [port, durationMs, kind] = String(line).split(' ')
  await flood(Number(port), Number(durationMs), kind === 'retry-after')
} else await main()
