/**
 * Workers of one cluster on one SQLite file, without Redis: a revocation on worker A reaches
 * worker B's cache through the primary (relayClusterRevocations), at once. Without the relay, B's
 * cache (TOKEN_CACHE_SECONDS=60) would have answered 200 for a minute. Real node:cluster workers
 * (this same file, run as a worker), each on its own port so the test can pick which one it asks.
 */
import assert from 'node:assert/strict'
import cluster, { type Worker } from 'node:cluster'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { issueAccessToken } from '../../src/accounts/access-tokens.ts'
import { insertUser } from '../../src/accounts/users.ts'
import { buildApp } from '../../src/server/build-app.ts'
import { loadConfig } from '../../src/server/config.ts'
import { relayClusterRevocations } from '../../src/server/revocation-cluster.ts'
import { migrateToLatest } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { TEST_SECRET } from '../helpers/test-app.ts'

const INSTANT_MS = 100

async function runWorker(): Promise<void> {
  const app = await buildApp(loadConfig(), { logger: false })
  // Its own port (not the cluster's shared one): the test must choose the worker it asks.
  await app.listen({ host: '127.0.0.1', port: 0, exclusive: true } as { host: string; port: number })
  process.send?.({ ready: (app.server.address() as { port: number }).port })
  process.once('SIGTERM', () => app.close().then(() => process.exit(0)))
}

if (cluster.isWorker) {
  await runWorker()
} else {
  describe('revocations between cluster workers (SQLite, no Redis)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-revocations-'))
    const url = `sqlite:${join(dir, 'shared.db')}`
    let store: Store
    let userId: number
    let otherUserId: number
    const workers: { worker: Worker; port: number }[] = []

    before(async () => {
      store = openStore(url)
      await migrateToLatest(store.db, store.dialect)
      userId = (await insertUser(store.db, { email: 'worker@example.com', hashedPassword: 'x' })).id
      otherUserId = (await insertUser(store.db, { email: 'other@example.com', hashedPassword: 'x' })).id
      const { NODE_TEST_CONTEXT: _, ...env } = process.env
      cluster.setupPrimary({
        exec: fileURLToPath(import.meta.url),
        execArgv: ['--import', import.meta.resolve('tsx')],
      })
      for (let i = 0; i < 2; i++) {
        const worker = cluster.fork({
          ...env,
          DATABASE_URL: url,
          GATEHOUSE_SECRET: TEST_SECRET,
          TOKEN_CACHE_SECONDS: '60',
          PRUNE_INTERVAL_SECONDS: '0',
          DEMO_PORT: '0',
          REDIS_URL: '',
        })
        const port = await new Promise<number>((resolve, reject) => {
          worker.on('message', (message: { ready?: number }) => message.ready && resolve(message.ready))
          worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
        })
        workers.push({ worker, port })
      }
      // The revocation log (migration 003) would reach B within its poll, relay or not: out of play,
      // so what is measured here is the relay alone.
      await sql`drop table if exists revocation_events`.execute(store.db)
    })
    after(async () => {
      await Promise.all(
        workers.map(
          ({ worker }) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve()
              const timer = setTimeout(() => worker.process.kill('SIGKILL'), 5000)
              worker.once('exit', () => {
                clearTimeout(timer)
                resolve()
              })
              worker.process.kill('SIGTERM')
            }),
        ),
      )
      await store?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const call = async (which: 0 | 1, method: string, path: string, token: string) => {
      const port = workers[which]?.port
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      })
      await response.arrayBuffer()
      return response.status
    }
    const newToken = async (owner = userId) => (await issueAccessToken(store.db, owner, 'bearer', 3600)).token
    async function within(boundMs: number, done: () => Promise<boolean>): Promise<void> {
      const started = performance.now()
      while (!(await done())) {
        assert.ok(performance.now() - started < boundMs, `not seen within ${boundMs} ms`)
        await sleep(1)
      }
    }

    it('without the relay, B answers a token revoked on A from its cache', async () => {
      const token = await newToken()
      assert.equal(await call(1, 'GET', '/me', token), 200)
      assert.equal(await call(0, 'POST', '/logout', token), 204)
      await sleep(INSTANT_MS * 2)
      assert.equal(await call(1, 'GET', '/me', token), 200)
    })

    it('with the relay, B refuses it at once: one token, and every token of a user', async () => {
      const stop = relayClusterRevocations()
      try {
        const token = await newToken()
        assert.equal(await call(1, 'GET', '/me', token), 200)
        assert.equal(await call(0, 'POST', '/logout', token), 204)
        await within(INSTANT_MS, async () => (await call(1, 'GET', '/me', token)) === 401)

        const kept = await newToken()
        const others = [await newToken(), await newToken()]
        for (const other of others) assert.equal(await call(1, 'GET', '/me', other), 200)
        // "Sign out everywhere else" on A: a user revocation.
        assert.equal(await call(0, 'DELETE', '/sessions', kept), 204)
        for (const other of others) {
          await within(INSTANT_MS, async () => (await call(1, 'GET', '/me', other)) === 401)
        }
        assert.equal(await call(1, 'GET', '/me', kept), 200)
      } finally {
        stop()
      }
    })

    it('stops relaying once stopped', async () => {
      // Another user: the first one's tokens are not cached for a while after "everywhere else".
      const token = await newToken(otherUserId)
      assert.equal(await call(0, 'GET', '/me', token), 200)
      assert.equal(await call(1, 'POST', '/logout', token), 204)
      await sleep(INSTANT_MS * 2)
      assert.equal(await call(0, 'GET', '/me', token), 200)
    })
  })
}
