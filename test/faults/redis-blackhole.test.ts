/**
 * A Redis that drops packets (issue 8): instance A reaches its own redis-server through a TCP proxy
 * that blackholes both ways (the connection stays open, nothing arrives), instance B reaches it
 * directly. Every command A sends then waits out its 1 s timeout (src/server/redis.ts); logins on A
 * must not each wait for several of them, and what A counts meanwhile must reach Redis after.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { createAccountLimiters } from '../../src/accounts/limiters.ts'
import { accountKey } from '../../src/accounts/throttle-keys.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import { closeRedis, connectRedis } from '../../src/server/redis.ts'
import { type RedisServer, redisServerSkip, startRedisServer } from '../helpers/redis-server.ts'

const FAIL = async () => null
const SUCCEED = async () => ({ id: 1 })
const silent = { warn() {}, info() {}, error() {} } as unknown as FastifyBaseLogger

/** A loopback proxy to `port` that can drop everything, and cut every connection. */
async function blackholeProxy(port: number) {
  let dropping = false
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (data) => dropping || upstream.write(data))
    upstream.on('data', (data) => dropping || client.write(data))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no proxy port')
  return {
    port: address.port,
    drop: () => {
      dropping = true
    },
    /** The partition heals as they do: the dead connections are reset, new ones get through. */
    heal: () => {
      dropping = false
      for (const socket of sockets) socket.destroy()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

const isRateLimited = (error: unknown) => error instanceof GatehouseError && error.code === 'RATE_LIMITED'

describe('login throttle with Redis dropping packets (a blackholing proxy)', {
  skip: redisServerSkip(),
}, () => {
  let server: RedisServer
  let proxy: Awaited<ReturnType<typeof blackholeProxy>>
  const clients: Redis[] = []
  const prefix = `gatehouse-blackhole-${randomBytes(4).toString('hex')}`

  before(async () => {
    server = await startRedisServer()
    proxy = await blackholeProxy(server.port)
  })
  after(async () => {
    await Promise.all(clients.map((client) => closeRedis(client)))
    await proxy?.close()
    await server?.stop()
  })

  it('logins on the cut-off instance do not each wait for Redis, and its block reaches the others', async () => {
    const viaProxy = await connectRedis(`redis://127.0.0.1:${proxy.port}`, 'a', silent)
    const direct = await connectRedis(server.url, 'b', silent)
    clients.push(viaProxy, direct)
    const a = createAccountLimiters({ redis: viaProxy, keyPrefix: prefix }).login
    const b = createAccountLimiters({ redis: direct, keyPrefix: prefix }).login
    const email = 'blackholed@example.com'

    proxy.drop()
    const started = Date.now()
    for (let i = 0; i < 10; i++) assert.equal(await a.guard(email, '10.70.0.1', FAIL), null)
    await assert.rejects(a.guard(email, '10.70.0.2', SUCCEED), isRateLimited)
    const elapsed = Date.now() - started
    // Waiting on each command would take about 3 s per attempt (a read, a count, a block or
    // penalty, 1 s each): 30 s here. Going to memory after the first timeout, a few seconds.
    assert.ok(elapsed < 6000, `11 attempts took ${elapsed} ms`)
    assert.equal(viaProxy.status, 'ready', 'the connection looked alive all along')

    proxy.heal()
    const key = `${prefix}:login:account:${accountKey(email)}`
    await until(async () => Number(await direct.get(key)) > 2 ** 29, 'the block to be written back')
    await assert.rejects(b.guard(email, '10.70.0.3', SUCCEED), isRateLimited)
    await assert.rejects(a.guard(email, '10.70.0.4', SUCCEED), isRateLimited)
  })
})
