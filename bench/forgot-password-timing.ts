/**
 * Does POST /forgot-password take longer for an email that has an account? The full server
 * (`buildApp`, mail on, no SMTP_URL: mail is written as .eml files into a temp folder) runs in this
 * process on loopback, the client in a worker thread over one kept-alive connection; one account
 * is registered, then requests for its email and for unknown emails (new each time, same length)
 * alternate in pairs whose order is drawn at random, after a warm-up. The mail limits are off, so
 * every request queues a row; between requests the worker gets a moment to send or drop it, and at
 * the end every row must be sent (known) or dropped (unknown), or the run proves nothing and fails.
 *
 * Prints the median (and p90) of each kind and the ratio of the medians, known / unknown; exits 1
 * when a ratio is outside 0.9–1.1.
 *
 * Usage: npx tsx bench/forgot-password-timing.ts [--postgres]
 *   PostgreSQL too with --postgres or when TEST_DATABASE_URL (or BENCH_DATABASE_URL) names a server
 *   (a fresh database is created on it and dropped afterwards).
 *   BENCH_PAIRS=100 BENCH_WARMUP_PAIRS=10 BENCH_SETTLE_MS=30
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import pg from 'pg'
import { buildApp } from '../src/server/build-app.ts'
import { loadConfig } from '../src/server/config.ts'

const pairs = Number(process.env.BENCH_PAIRS ?? 100)
const warmupPairs = Number(process.env.BENCH_WARMUP_PAIRS ?? 10)
const settleMs = Number(process.env.BENCH_SETTLE_MS ?? 30)
if (!Number.isInteger(pairs) || pairs < 30) throw new Error('BENCH_PAIRS must be at least 30')
const LOW = 0.9
const HIGH = 1.1
const KNOWN_EMAIL = 'bench-user@example.com'
/** Same length as the known address, a new one each time: `u000000042@example.com`. */
const unknownEmail = (i: number) => `u${String(i).padStart(9, '0')}@example.com`

const postgresServer =
  process.env.BENCH_DATABASE_URL ||
  process.env.TEST_DATABASE_URL ||
  (process.argv.includes('--postgres') ? 'postgres://postgres@127.0.0.1:5432/postgres' : '')

interface Database {
  url: string
  drop(): Promise<void>
}

async function postgresDatabase(serverUrl: string): Promise<Database> {
  const name = `gatehouse_bench_${randomBytes(6).toString('hex')}`
  const admin = async (query: string) => {
    const client = new pg.Client({ connectionString: serverUrl })
    await client.connect()
    try {
      await client.query(query)
    } finally {
      await client.end()
    }
  }
  await admin(`create database ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) }
}

/**
 * The client, in a worker thread with an event loop of its own: in the server's loop, the mail
 * worker's rendering for a known email would delay reading the response and show up as server
 * time, which a remote client would not see. Plain JavaScript, so the thread needs no loader.
 */
const CLIENT_SOURCE = `
const http = require('node:http')
const { parentPort, workerData } = require('node:worker_threads')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
parentPort.on('message', ({ id, path, body }) => {
  const payload = JSON.stringify(body)
  const started = process.hrtime.bigint()
  const request = http.request(
    {
      host: '127.0.0.1',
      port: workerData.port,
      path,
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    },
    (response) => {
      const chunks = []
      response.on('data', (chunk) => chunks.push(chunk))
      response.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6
        parentPort.postMessage({ id, status: response.statusCode, body: Buffer.concat(chunks).toString(), ms })
      })
    },
  )
  request.on('error', (error) => parentPort.postMessage({ id, error: String(error) }))
  request.end(payload)
})
`

interface Answer {
  status: number
  body: string
  ms: number
}

function startClient(port: number) {
  const thread = new Worker(CLIENT_SOURCE, { eval: true, workerData: { port } })
  const waiting = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void }>()
  let nextId = 0
  thread.on('message', (message: Answer & { id: number; error?: string }) => {
    const pending = waiting.get(message.id)
    waiting.delete(message.id)
    if (message.error) pending?.reject(new Error(message.error))
    else pending?.resolve(message)
  })
  return {
    post(path: string, body: object): Promise<Answer> {
      const id = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        thread.postMessage({ id, path, body })
      })
    },
    close: () => thread.terminate(),
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const position = (sorted.length - 1) * q
  const lower = Math.floor(position)
  const upper = Math.ceil(position)
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower)
}

interface Result {
  label: string
  known: number[]
  unknown: number[]
  ratio: number
}

async function measure(label: string, databaseUrl: string, dir: string): Promise<Result> {
  const mailDir = join(dir, `outbox-${label}`)
  const app = await buildApp(
    loadConfig({
      DATABASE_URL: databaseUrl,
      GATEHOUSE_SECRET: 'bench-secret-bench-secret-bench-secret',
      PRUNE_INTERVAL_SECONDS: '0',
      ACCOUNT_EMAILS: '1',
      MAIL_DIR: mailDir,
      // Every request must queue its row: the limiter's refusals would be a different code path.
      MAIL_REQUESTS_PER_EMAIL: '0',
      MAIL_REQUESTS_PER_IP: '0',
      REGISTER_MAX_PER_IP: '0',
    }),
    { logger: false },
  )
  let client: ReturnType<typeof startClient> | undefined
  try {
    await app.listen({ host: '127.0.0.1', port: 0 })
    client = startClient((app.server.address() as { port: number }).port)
    const registered = await client.post('/register', {
      email: KNOWN_EMAIL,
      password: 'a bench password that is long enough',
    })
    if (registered.status !== 201) throw new Error(`register answered ${registered.status}`)

    let unknownCount = 0
    let answer: string | undefined
    const forgot = async (email: string) => {
      const response = await client!.post('/forgot-password', { email })
      if (response.status !== 202) throw new Error(`/forgot-password answered ${response.status}`)
      answer ??= response.body
      // The same answer for every email, or the timing is the least of the problems.
      if (response.body !== answer) throw new Error(`a different answer: ${response.body}`)
      await sleep(settleMs)
      return response.ms
    }

    const known: number[] = []
    const unknown: number[] = []
    for (let i = 0; i < warmupPairs + pairs; i++) {
      const knownFirst = Math.random() < 0.5
      const first = await forgot(knownFirst ? KNOWN_EMAIL : unknownEmail(unknownCount++))
      const second = await forgot(knownFirst ? unknownEmail(unknownCount++) : KNOWN_EMAIL)
      if (i < warmupPairs) continue
      known.push(knownFirst ? first : second)
      unknown.push(knownFirst ? second : first)
    }

    // Every known request was mailed, every unknown one dropped: the known path really ran.
    const db = app.gatehouse.accounts.db
    const counts = async () => {
      const rows = await db
        .selectFrom('outbox')
        .select(['status', db.fn.countAll<number>().as('n')])
        .where('purpose', '=', 'password-reset')
        .groupBy('status')
        .execute()
      return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]))
    }
    let outbox = await counts()
    for (let waited = 0; (outbox.pending ?? 0) > 0 && waited < 10_000; waited += 50) {
      await sleep(50)
      outbox = await counts()
    }
    const total = warmupPairs + pairs
    const files = readdirSync(mailDir).filter((name) => name.endsWith('.eml')).length
    // Registration queued one verification mail too.
    if (outbox.sent !== total || outbox.dropped !== total || files !== total + 1) {
      throw new Error(
        `expected ${total} reset mails sent and ${total} dropped; outbox ${JSON.stringify(outbox)}, ${files} .eml files`,
      )
    }
    return { label, known, unknown, ratio: quantile(known, 0.5) / quantile(unknown, 0.5) }
  } finally {
    await client?.close()
    await app.close()
  }
}

function report(result: Result): boolean {
  const line = (kind: string, values: number[]) =>
    console.log(
      `  ${kind.padEnd(16)} median ${quantile(values, 0.5).toFixed(3)} ms  p90 ${quantile(values, 0.9).toFixed(3)} ms  (n=${values.length})`,
    )
  console.log(`${result.label}:`)
  line('known email', result.known)
  line('unknown emails', result.unknown)
  const inside = result.ratio >= LOW && result.ratio <= HIGH
  console.log(
    `  ratio known / unknown (medians) ${result.ratio.toFixed(3)}  ${inside ? 'ok' : `OUTSIDE ${LOW}–${HIGH}`}`,
  )
  return inside
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-forgot-timing-'))
// Anything written relative to the working directory (the default ./data/outbox) lands here too.
const previousCwd = process.cwd()
process.chdir(dir)
let allInside = true
try {
  console.log(`pairs=${pairs} warm-up pairs=${warmupPairs} settle=${settleMs} ms node=${process.version}`)
  allInside = report(await measure('sqlite', `sqlite:${join(dir, 'bench.db')}`, dir)) && allInside
  if (postgresServer) {
    const database = await postgresDatabase(postgresServer)
    try {
      allInside = report(await measure('postgres', database.url, dir)) && allInside
    } finally {
      await database.drop()
    }
  }
} finally {
  process.chdir(previousCwd)
  rmSync(dir, { recursive: true, force: true })
}
process.exitCode = allInside ? 0 : 1
