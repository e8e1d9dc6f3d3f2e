/**
 * Event-loop lag while 8 logins (argon2id verifies) run at once, against the same 8 verifies done
 * with the blocking Sync API — what the lag would be if hashing ran on the event loop.
 * Usage: npx tsx bench/login-loop-lag.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verifySync } from '@node-rs/argon2'
import { buildApp } from '../src/server/build-app.ts'
import { loadConfig } from '../src/server/config.ts'

const LOGINS = 8
const EMAIL = 'lag@example.com'
const PASSWORD = 'a long enough password'

/**
 * The longest gap between ticks of a 1 ms interval while `work` runs, minus the interval: how long
 * the event loop could not serve anything else. (A tick-gap timer sees a synchronous block that
 * perf_hooks' histogram can miss when the block starts before its first sample.)
 */
async function maxLagDuring(work: () => Promise<unknown>): Promise<{ maxMs: number; tookMs: number }> {
  let last = performance.now()
  let maxGap = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
  }, 1)
  await new Promise((resolve) => setTimeout(resolve, 5))
  const started = performance.now()
  await work()
  const tookMs = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 5))
  clearInterval(timer)
  return { maxMs: Math.max(0, maxGap - 1), tookMs }
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-lag-'))
const app = await buildApp(
  loadConfig({
    DATABASE_URL: `sqlite:${join(dir, 'lag.db')}`,
    GATEHOUSE_SECRET: 'bench-secret-bench-secret-bench-secret',
    PRUNE_INTERVAL_SECONDS: '0',
  }),
  { logger: false },
)
try {
  await app.inject({ method: 'POST', url: '/register', payload: { email: EMAIL, password: PASSWORD } })
  const login = () =>
    app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: EMAIL, password: PASSWORD }).toString(),
    })
  await login() // warm-up
  const idle = await maxLagDuring(() => new Promise((resolve) => setTimeout(resolve, 200)))
  const async = await maxLagDuring(async () => {
    const responses = await Promise.all(Array.from({ length: LOGINS }, login))
    if (responses.some((r) => r.statusCode !== 200)) throw new Error('a login failed')
  })
  const row = await app.gatehouse.accounts.db
    .selectFrom('users')
    .select('hashed_password')
    .executeTakeFirstOrThrow()
  const sync = await maxLagDuring(async () => {
    // Yield once first so the interval is ticking when the block starts.
    await new Promise((resolve) => setTimeout(resolve, 2))
    for (let i = 0; i < LOGINS; i++) verifySync(row.hashed_password, PASSWORD)
  })
  const line = (label: string, r: { maxMs: number; tookMs: number }) =>
    console.log(
      `${label.padEnd(46)} max event-loop lag ${r.maxMs.toFixed(1)} ms (work took ${r.tookMs.toFixed(0)} ms)`,
    )
  line('idle (200 ms)', idle)
  line(`${LOGINS} concurrent POST /token (async argon2id)`, async)
  line(`${LOGINS} argon2id verifies with the Sync API`, sync)
} finally {
  await app.close()
  rmSync(dir, { recursive: true, force: true })
}
