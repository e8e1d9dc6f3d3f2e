/**
 * A redis-server of the test's own, on a free loopback port, that the test can stop and start
 * again on the same port: a real outage, never the machine's shared Redis. No persistence
 * (`--save ""`, no AOF): a restart comes back empty, as a crashed cache does.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const BINARY = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server'
const START_TIMEOUT_MS = 5000

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** The running server's PID, or null while stopped. */
  readonly pid: number | null
  /** Kills the server (SIGKILL by default: a crash) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port and waits for PONG. */
  start(): Promise<void>
}

/** Skip message for node:test when there is no redis-server binary (a failure when CI requires redis). */
export function redisServerSkip(): string | false {
  if (existsSync(BINARY)) return false
  const required = (process.env.GATEHOUSE_REQUIRE ?? '').split(',').includes('redis')
  if (required) throw new Error(`redis is required by GATEHOUSE_REQUIRE but ${BINARY} is missing`)
  return `skipped: no redis-server at ${BINARY}`
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | null = null
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid ?? null
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      const running = child
      child = null
      if (!running || running.exitCode !== null || running.signalCode !== null) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      if (running.pid !== undefined) process.kill(running.pid, signal)
      await exited
    },
    async start() {
      if (child) return
      child = spawn(
        BINARY,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        { stdio: 'ignore' },
      )
      const started = child
      const deadline = Date.now() + START_TIMEOUT_MS
      while (!(await pong(port))) {
        if (started.exitCode !== null || Date.now() > deadline) {
          await server.stop()
          throw new Error(`redis-server on port ${port} did not start`)
        }
        await sleep(20)
      }
    },
  }
  await server.start()
  return server
}

/** True when something on `port` answers PING with +PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let answer = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (data) => {
      answer += data.toString()
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'))
    })
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
}
