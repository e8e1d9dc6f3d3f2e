/**
 * Does GET /protected-route slow down as access_tokens grows? One SQLite database (or a fresh
 * PostgreSQL one with --postgres) is grown from 10^3 to 10^6 rows, seeded directly with SQL (random
 * hashes of another user's tokens, no argon2, no HTTP), and at each size the route is loaded with
 * the default token cache and with TOKEN_CACHE_SECONDS=0 (a lookup per request: the index is what
 * is measured), each against a bare Fastify route in the same round. A flat ratio is the result.
 * Usage: npx tsx bench/token-table-scale.ts [--postgres]  (BENCH_SECONDS=1.5 BENCH_ROUNDS=3
 * BENCH_CONNECTIONS=64 BENCH_SIZES=1000,10000,100000,1000000)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'
import Sqlite from 'better-sqlite3'
import pg from 'pg'
import { openMigratedStore } from '../src/store/migrate.ts'
import { saveResult } from './results.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 1.5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const sizes = (process.env.BENCH_SIZES ?? '1000,10000,100000,1000000').split(',').map(Number)
const postgresServer = process.argv.includes('--postgres')
  ? (process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
  : null

interface Seeder {
  url: string
  /** Adds `count` tokens of a user that is not the one the bench signs in. */
  add(count: number): Promise<void>
  rows(): Promise<number>
  close(): Promise<void>
}

const DAY = 86_400_000

async function sqliteSeeder(): Promise<Seeder> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-scale-'))
  const url = `sqlite:${join(dir, 'scale.db')}`
  await (await openMigratedStore(url)).store.close()
  const db = new Sqlite(join(dir, 'scale.db'))
  db.pragma('journal_mode = WAL')
  const now = Date.now()
  const { lastInsertRowid: filler } = db
    .prepare(
      `insert into users (email, email_normalized, hashed_password, is_active, is_superuser, is_verified, created_at, updated_at)
       values ('filler@example.com', 'filler@example.com', 'x', 1, 0, 0, ?, ?)`,
    )
    .run(now, now)
  const insert = db.prepare(
    `with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
     insert into access_tokens (token_hash, user_id, kind, created_at, expires_at, last_used_at, public_id)
     select lower(hex(randomblob(32))), ?, 'bearer', ?, ?, null, lower(hex(randomblob(16))) from n`,
  )
  return {
    url,
    add: async (count) => void insert.run(count, filler, now, now + DAY),
    rows: async () => (db.prepare('select count(*) as n from access_tokens').get() as { n: number }).n,
    close: async () => {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function postgresSeeder(serverUrl: string): Promise<Seeder> {
  const name = `gatehouse_scale_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  const target = new URL(serverUrl)
  target.pathname = `/${name}`
  const url = target.toString()
  await (await openMigratedStore(url)).store.close()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const now = Date.now()
  const { rows } = await client.query(
    `insert into users (email, email_normalized, hashed_password, is_active, is_superuser, is_verified, created_at, updated_at)
     values ('filler@example.com', 'filler@example.com', 'x', 1, 0, 0, $1, $1) returning id`,
    [now],
  )
  const filler = rows[0].id as number
  return {
    url,
    add: async (count) => {
      await client.query(
        `insert into access_tokens (token_hash, user_id, kind, created_at, expires_at, last_used_at, public_id)
         select md5(random()::text || i) || md5(i::text || random()::text), $1, 'bearer', $2, $3, null, md5(random()::text)
         from generate_series(1, $4::int) as i`,
        [filler, now, now + DAY, count],
      )
      await client.query('analyze access_tokens')
    },
    rows: async () => Number((await client.query('select count(*) as n from access_tokens')).rows[0].n),
    close: async () => {
      await client.end()
      await admin.query(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

interface Started {
  name: string
  child: ChildProcess
  url: string
  token: string
}

async function startServer(name: string, kind: 'bare' | 'gatehouse', env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers.ts', kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  })
  for await (const line of createInterface({ input: child.stdout! })) {
    const match = /^READY (\d+) (\S+)$/.exec(line)
    if (match) return { name, child, url: `http://127.0.0.1:${match[1]}/protected-route`, token: match[2]! }
  }
  throw new Error(`${name} exited before it was ready`)
}

async function load(server: Started, duration: number): Promise<number> {
  const result = await autocannon({
    url: server.url,
    connections,
    duration,
    headers: { authorization: `Bearer ${server.token}` },
  })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${server.name}: ${result.non2xx} non-2xx and ${result.errors} errors`)
  }
  return result.requests.average
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const seeder = postgresServer ? await postgresSeeder(postgresServer) : await sqliteSeeder()
const servers: Started[] = []
const table: { rows: number; cached: number; uncached: number }[] = []
try {
  const database = { BENCH_DATABASE_URL: seeder.url }
  servers.push(await startServer('bare', 'bare', {}))
  servers.push(await startServer('cache 5 s', 'gatehouse', database))
  servers.push(await startServer('no cache', 'gatehouse', { ...database, TOKEN_CACHE_SECONDS: '0' }))
  for (const server of servers) await load(server, 1)
  console.log(
    `${postgresServer ? 'PostgreSQL' : 'SQLite'} connections=${connections} seconds=${seconds} ` +
      `rounds=${rounds} node=${process.version} load average=${loadavg()[0]!.toFixed(2)}`,
  )
  console.log('rows in access_tokens   cache 5 s / bare   no cache / bare   (seeded in)')
  for (const size of sizes) {
    const started = performance.now()
    const missing = size - (await seeder.rows())
    if (missing > 0) await seeder.add(missing)
    const seededIn = (performance.now() - started) / 1000
    const ratios: number[][] = [[], []]
    for (let round = 0; round < rounds; round++) {
      const bare = await load(servers[0]!, seconds)
      ratios[0]!.push((await load(servers[1]!, seconds)) / bare)
      ratios[1]!.push((await load(servers[2]!, seconds)) / bare)
    }
    const row = { rows: await seeder.rows(), cached: median(ratios[0]!), uncached: median(ratios[1]!) }
    table.push(row)
    console.log(
      `${String(row.rows).padStart(21)}   ${row.cached.toFixed(2).padStart(16)}   ${row.uncached.toFixed(2).padStart(15)}` +
        `   (${seededIn.toFixed(1)} s)`,
    )
  }
  saveResult(`token-table-scale-${postgresServer ? 'postgres' : 'sqlite'}`, {
    connections,
    seconds,
    rounds,
    table,
  })
} finally {
  for (const { child } of servers) child.kill()
  await Promise.all(
    servers.map(({ child }) =>
      child.exitCode !== null || child.signalCode !== null
        ? null
        : new Promise((resolve) => child.once('exit', resolve)),
    ),
  )
  await seeder.close()
}
