/**
 * SIGTERM drains a real `gatehouse serve` process (issue 8, "Shutdown that drains"): an idle
 * keep-alive client does not hold it open, a request that reached it is answered in full with
 * `Connection: close`, a request that arrives during the drain gets our 503 JSON, the audit
 * trail's last batch is written, and SHUTDOWN_TIMEOUT_SECONDS bounds a request that never ends.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import { openStore } from '../../src/store/open-store.ts'
import { type ServeProcess, startServe } from '../fixtures/serve-process.ts'
import { rawRequest } from '../server/raw-http.ts'

const started: ServeProcess[] = []
after(async () => {
  for (const server of started) await server.cleanup()
})

async function serve(env: Record<string, string> = {}): Promise<ServeProcess> {
  const server = await startServe([], { SHUTDOWN_TIMEOUT_SECONDS: '10', ...env })
  started.push(server)
  await server.waitFor('Gatehouse API on')
  return server
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A raw connection whose every byte received is kept, and whose close is noticed. */
function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1')
  const state = { received: '', closed: false, reset: false }
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    state.received += chunk
  })
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') state.reset = true
  })
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      state.closed = true
      resolve()
    }),
  )
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return { socket, state, closed, connected }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > end) throw new Error('condition not met in time')
    await sleep(10)
  }
}

function parse(raw: string) {
  const end = raw.indexOf('\r\n\r\n')
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(end + 4) }
}

describe('SIGTERM drains the server', { timeout: 120_000 }, () => {
  it('keep-alive clients do not delay the exit: idle, never used, or busy at SIGTERM; exit 0 in about a second', async () => {
    const server = await serve()
    const idle = connect(server.port)
    await idle.connected
    idle.socket.write(get('/healthz'))
    await until(() => idle.state.received.includes('{"status":"ok"}'))
    assert.match(idle.state.received, /keep-alive/i)
    // A browser's speculative connection: open, no request yet.
    const unused = connect(server.port)
    await unused.connected
    // Busy at SIGTERM, and the client would keep the connection for its next request: after its
    // response the connection is idle, and Node's server.close() has already reaped the idle ones.
    const busy = connect(server.port)
    await busy.connected
    busy.socket.write(
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{',
    )
    await sleep(200)

    server.signal('SIGTERM')
    await sleep(200)
    busy.socket.write('}')
    const exit = await server.exited
    assert.equal(exit.code, 0, server.output())
    // Keep-alive is 72 s: a connection left open after its response held the process that long.
    assert.ok(exit.ms < 2000, `exit took ${Math.round(exit.ms)} ms`)
    await Promise.all([idle.closed, unused.closed, busy.closed])
    assert.equal(parse(busy.state.received).status, 422, busy.state.received)
    assert.equal(idle.state.reset || unused.state.reset || busy.state.reset, false)
  })

  it('answers the request in flight with Connection: close, a new one on an open connection with our 503, and flushes the audit trail', async () => {
    const server = await serve()
    // A login whose headers arrived before SIGTERM and whose body comes after.
    const body = JSON.stringify({ username: 'nobody@example.com', password: 'not the password' })
    const inFlight = connect(server.port)
    await inFlight.connected
    inFlight.socket.write(
      `POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    )
    // A request whose headers are still arriving at SIGTERM: it reaches the app during the drain.
    const late = connect(server.port)
    await late.connected
    late.socket.write('GET /me HTTP/1.1\r\nHost: localhost\r\n')
    await sleep(300)

    server.signal('SIGTERM')
    await server.waitFor('draining: no new connections')
    // A second signal (a terminal's Ctrl-C relayed by a wrapper) does not cut the drain short.
    server.signal('SIGTERM')
    await server.waitFor('already draining')
    await sleep(200)
    inFlight.socket.write(body.slice(10))
    late.socket.write('\r\n')
    await Promise.all([inFlight.closed, late.closed])

    const login = parse(inFlight.state.received)
    assert.equal(login.status, 401, inFlight.state.received)
    assert.equal(login.headers.connection, 'close')
    assert.deepEqual(JSON.parse(login.body), {
      detail: 'Incorrect email or password',
      code: 'BAD_CREDENTIALS',
    })

    const refused = parse(late.state.received)
    assert.equal(refused.status, 503, late.state.received)
    assert.equal(refused.headers.connection, 'close')
    assert.equal(refused.headers['retry-after'], '1')
    assert.equal(refused.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(refused.headers['x-content-type-options'], 'nosniff')
    assert.deepEqual(JSON.parse(refused.body), {
      detail: 'The server is restarting, try again shortly',
      code: 'SHUTTING_DOWN',
    })

    const exit = await server.exited
    assert.equal(exit.code, 0, server.output())
    assert.ok(exit.ms < 5000, `exit took ${Math.round(exit.ms)} ms`)
    // The failed login's audit event was still in memory (1 s batches) when SIGTERM came.
    const store = openStore(server.databaseUrl)
    try {
      const events = await store.db
        .selectFrom('audit_events')
        .select('type')
        .where('type', '=', 'login.failed')
        .execute()
      assert.equal(events.length, 1)
    } finally {
      await store.close()
    }
  })

  it('refuses new connections once draining', async () => {
    const server = await serve()
    const holder = connect(server.port)
    await holder.connected
    // Holds the drain open: a body that is not finished yet.
    holder.socket.write(
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{',
    )
    await sleep(200)
    server.signal('SIGTERM')
    await server.waitFor('draining: no new connections')
    await assert.rejects(rawRequest(server.port, get('/healthz'), { timeoutMs: 2000 }))
    holder.socket.destroy()
    assert.equal((await server.exited).code, 0, server.output())
  })

  it('SHUTDOWN_TIMEOUT_SECONDS bounds a request that never ends: cut at the deadline, exit 1', async () => {
    const server = await serve({ SHUTDOWN_TIMEOUT_SECONDS: '2' })
    const stalled = connect(server.port)
    await stalled.connected
    stalled.socket.write(
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
    )
    await sleep(200)
    server.signal('SIGTERM')
    const exit = await server.exited
    assert.equal(exit.code, 1, server.output())
    assert.ok(exit.ms >= 1900 && exit.ms < 4000, `exit took ${Math.round(exit.ms)} ms`)
    assert.match(server.output(), /drain timed out/)
    await stalled.closed
  })
})
