/**
 * A listener whose connection goes silent (packets dropped, no reset: a dead route) cannot know
 * it misses messages, so it pings: the ping times out, the channel is reported down once, it
 * reconnects when the route is back, and the cache is flushed, so a revocation it could not hear
 * is honoured right after. PostgreSQL LISTEN and Redis pub/sub. Instance B reaches the channel's
 * server through a TCP proxy this test controls (a real socket that forwards, or swallows every
 * byte); A connects directly.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPostgresDatabase, createSqliteDatabase } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'
import { bearer, registerAndLogin, startTestApp, type TestApp } from '../helpers/test-app.ts'

const postgres = service('postgres')
const redisService = service('redis')
const PASSWORD = 'silent-listener-password'

/** Forwards to `target`, or swallows everything both ways; `restore()` also drops the old sockets. */
async function silenceableProxy(target: { host: string; port: number }) {
  let silent = false
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    }
    client.on('data', (data) => silent || upstream.write(data))
    upstream.on('data', (data) => silent || client.write(data))
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    silence: () => {
      silent = true
    },
    restore() {
      silent = false
      // What was swallowed leaves those sessions out of step: the route is back, they are not.
      for (const socket of sockets) socket.destroy()
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function capturingLogger() {
  const lines: { level: number; msg: string }[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { lines, logger: { level: 'info', stream } }
}

interface Case {
  name: string
  skip: string | false
  /** Starts A, and says where B's channel server is and how B reaches it through the proxy. */
  start(env: Record<string, string>): Promise<{
    a: TestApp
    target: URL
    bEnv: (proxyPort: number) => { url: string; env: Record<string, string> }
  }>
}

const prefix = `gatehouse-test-silence-${randomBytes(5).toString('hex')}`
const cases: Case[] = [
  {
    name: 'PostgreSQL LISTEN',
    skip: postgres.skip,
    async start(env) {
      const a = await startTestApp({ create: () => createPostgresDatabase(postgres.value), env })
      const target = new URL(a.store.url)
      return {
        a,
        target,
        bEnv(port) {
          const viaProxy = new URL(a.store.url)
          viaProxy.hostname = '127.0.0.1'
          viaProxy.port = String(port)
          return { url: viaProxy.toString(), env }
        },
      }
    },
  },
  {
    name: 'Redis pub/sub',
    skip: redisService.skip,
    async start(env) {
      const redisEnv = { ...env, REDIS_URL: redisService.value, REDIS_KEY_PREFIX: prefix }
      const a = await startTestApp({ create: createSqliteDatabase, env: redisEnv })
      const target = new URL(redisService.value)
      return {
        a,
        target,
        bEnv(port) {
          const viaProxy = new URL(redisService.value)
          viaProxy.hostname = '127.0.0.1'
          viaProxy.port = String(port)
          return { url: a.store.url, env: { ...redisEnv, REDIS_URL: viaProxy.toString() } }
        },
      }
    },
  },
]

for (const channel of cases) {
  describe(`a silent ${channel.name} listener`, { skip: channel.skip, timeout: 60_000 }, () => {
    let a: TestApp
    let b: TestApp
    let proxy: Awaited<ReturnType<typeof silenceableProxy>>
    const logB = capturingLogger()
    before(async () => {
      const started = await channel.start({ TOKEN_CACHE_SECONDS: '60', DATABASE_TIMEOUT_SECONDS: '1' })
      a = started.a
      proxy = await silenceableProxy({
        host: started.target.hostname,
        port: Number(started.target.port || (channel.name.startsWith('Redis') ? 6379 : 5432)),
      })
      const { url, env } = started.bEnv(proxy.port)
      b = await startTestApp({
        create: async () => ({ url, drop: async () => {} }),
        env,
        logger: logB.logger,
      })
      await sleep(300)
    })
    after(async () => {
      proxy?.restore()
      await b?.close()
      await a?.close()
      await proxy?.close()
    })

    const me = async (t: TestApp, token: string) =>
      (await t.app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode
    const says = (text: string) => logB.lines.filter((line) => line.msg?.includes(text))

    it('is found out by its ping, said once, and flushes the cache once the route is back', async () => {
      const user = await registerAndLogin(a.app, 'silence@example.com', PASSWORD)
      assert.equal(await me(b, user.token), 200)
      proxy.silence()
      // The revocation B cannot hear: published by A while B's listener hears nothing.
      const out = await a.app.inject({ method: 'POST', url: '/logout', headers: bearer(user.token) })
      assert.equal(out.statusCode, 204)
      assert.equal(await me(b, user.token), 200, "B's cache answers: the TTL is the bound while it is deaf")
      // Heartbeat every 5 s, 1 s to answer.
      const unavailable = `revocation channel (${channel.name}) unavailable`
      const deadline = Date.now() + 10_000
      while (says(unavailable).length === 0 && Date.now() < deadline) await sleep(50)
      const down = says(unavailable)
      assert.equal(down.length, 1)
      assert.equal(down[0]?.level, 40)
      proxy.restore()
      const back = Date.now() + 10_000
      while ((await me(b, user.token)) !== 401) {
        assert.ok(Date.now() < back, 'B still accepts the token after the route came back')
        await sleep(20)
      }
      assert.equal(says(unavailable).length, 1, 'one warning for the whole outage, whatever the retries')
      assert.equal(says('token cache flushed').length, 1)
    })
  })
}
