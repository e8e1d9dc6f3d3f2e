/**
 * Server processes for the benchmarks, each started as its own child so the load generator and
 * the server don't share a core. `tsx bench/servers.ts <bare|gatehouse>` prints `READY <port> <token>`;
 * with BENCH_CREDENTIAL=api-key the credential is a personal API key (`ghk_…`, scope profile:read)
 * instead of a password-flow token.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { buildApp } from '../src/server/build-app.ts'
import { loadConfig } from '../src/server/config.ts'

const USER = {
  id: 1,
  email: 'bench@example.com',
  is_active: true,
  is_superuser: false,
  is_verified: false,
  created_at: '2026-01-01T00:00:00.000Z',
}

async function bare(): Promise<{ port: number; token: string }> {
  const app = Fastify({ logger: false })
  app.get('/protected-route', () => USER)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { port: (app.server.address() as { port: number }).port, token: 'none' }
}

async function gatehouse(): Promise<{ port: number; token: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'))
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
    GATEHOUSE_SECRET: 'bench-secret-bench-secret-bench-secret',
    PRUNE_INTERVAL_SECONDS: '0',
    ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
    ...(process.env.TOKEN_CACHE_SECONDS ? { TOKEN_CACHE_SECONDS: process.env.TOKEN_CACHE_SECONDS } : {}),
    ...(process.env.LOGIN_HASH_NICENESS ? { LOGIN_HASH_NICENESS: process.env.LOGIN_HASH_NICENESS } : {}),
  })
  // Same logger setting as the bare route: we measure the framework and auth, not log I/O.
  const app = await buildApp(config, { logger: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await app.inject({
    method: 'POST',
    url: '/register',
    payload: { email: USER.email, password: 'bench-password' },
  })
  const login = await app.inject({
    method: 'POST',
    url: '/token',
    payload: `username=${encodeURIComponent(USER.email)}&password=bench-password`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  const token: string = login.json().access_token
  const port = (app.server.address() as { port: number }).port
  if (process.env.BENCH_CREDENTIAL !== 'api-key') return { port, token }
  const key = await app.inject({
    method: 'POST',
    url: '/api-keys',
    headers: { authorization: `Bearer ${token}` },
    payload: { name: 'bench', scopes: ['profile:read'], expires_in_days: 1 },
  })
  return { port, token: key.json().key }
}

const kind = process.argv[2]
const started = kind === 'bare' ? await bare() : kind === 'gatehouse' ? await gatehouse() : null
if (!started) {
  console.error('usage: tsx bench/servers.ts <bare|gatehouse>')
  process.exit(2)
}
console.log(`READY ${started.port} ${started.token}`)
// A normal exit on signals, so `--cpu-prof` can write its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0))
