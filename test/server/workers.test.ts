/**
 * `gatehouse serve --workers 2` as a real process (issue 8, "Every core"): two worker processes
 * share one port, a worker killed with SIGKILL is replaced while the other keeps answering, and
 * SIGTERM to the primary drains both and exits 0. Which process answers a connection is read from
 * the OS (`ss -tnp`: the owner of the accepted socket), not from anything the server says.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import { type ServeProcess, startServe, workerPids } from '../fixtures/serve-process.ts'
import { rawRequest } from './raw-http.ts'

const hasSs = spawnSync('ss', ['-V'], { stdio: 'ignore' }).status === 0
const started: ServeProcess[] = []
const sockets: net.Socket[] = []
after(async () => {
  for (const socket of sockets) socket.destroy()
  for (const server of started) await server.cleanup()
})

const HEALTH = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Keep-alive connections, each with one answered request, left open. */
async function openConnections(port: number, count: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => socket.write(HEALTH))
          sockets.push(socket)
          socket.setEncoding('utf8')
          let received = ''
          socket.on('data', (chunk: string) => {
            received += chunk
            if (received.includes('{"status":"ok"}')) resolve()
          })
          socket.on('error', reject)
        }),
    ),
  )
}

/** The processes owning the server side of the established connections to `port`. */
function ownersOf(port: number): Set<number> {
  const listing = spawnSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], {
    encoding: 'utf8',
  }).stdout
  return new Set([...listing.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1])))
}

describe('serve --workers 2', { timeout: 120_000 }, () => {
  it('runs two workers on one port, replaces a killed one, and drains both on SIGTERM', async () => {
    const server = await startServe(['--workers', '2'], { SHUTDOWN_TIMEOUT_SECONDS: '3' })
    started.push(server)
    await server.waitFor('"msg":"worker listening"', 2, 60_000)
    const workers = workerPids(server.pid)
    assert.equal(workers.length, 2, `children: ${workers.join(', ')}\n${server.output()}`)

    if (hasSs) {
      // node:cluster hands connections out in turn: eight connections reach both workers.
      await openConnections(server.port, 8)
      assert.deepEqual([...ownersOf(server.port)].sort(), [...workers].sort())
      for (const socket of sockets.splice(0)) socket.destroy()
    }

    const [victim = 0, survivor = 0] = workers
    process.kill(victim, 'SIGKILL')
    // Once the primary knows (a connection handed to the victim in the instant it died is lost
    // with it, like a request in flight there), the port keeps answering while the victim is
    // replaced: the other worker takes every new connection.
    await server.waitFor('"msg":"worker died"', 1, 10_000)
    for (let i = 0; i < 20; i++) {
      const response = await rawRequest(server.port, HEALTH, { timeoutMs: 5000 })
      assert.equal(response.status, 200)
    }
    await server.waitFor('"msg":"worker listening"', 3, 60_000)
    const replaced = workerPids(server.pid)
    assert.equal(replaced.length, 2)
    assert.ok(replaced.includes(survivor))
    assert.ok(!replaced.includes(victim))
    assert.match(server.output(), /"signal":"SIGKILL".*"msg":"worker died"/)

    server.signal('SIGTERM')
    const exit = await server.exited
    assert.equal(exit.code, 0, server.output())
    // SHUTDOWN_TIMEOUT_SECONDS (3) bounds each worker's drain; these are idle, so far less.
    assert.ok(exit.ms < 3000, `exit took ${Math.round(exit.ms)} ms`)
    await sleep(100)
    for (const pid of replaced) assert.equal(isAlive(pid), false, `worker ${pid} outlived its primary`)
    assert.equal((server.output().match(/"msg":"drained"/g) ?? []).length, 2)
  })
})
