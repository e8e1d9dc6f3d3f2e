/**
 * A real TCP proxy in front of a real server (e.g. PostgreSQL on 127.0.0.1:5432), for fault
 * tests: the application connects to the proxy's port, and the test decides what the network
 * does. Modes apply to new connections and to the bytes of live ones:
 * - pass: bytes flow both ways;
 * - refuse: the listening socket is closed, so a connect gets ECONNREFUSED (live connections
 *   stay: `cut()` them for a server that is down);
 * - reset: a new connection is accepted then reset (RST) at once;
 * - blackhole: connections are accepted and bytes are swallowed, nothing ever comes back
 *   (a dropped network, a frozen server).
 * `cut()` resets every live connection (a server crash, a failover).
 */
import { createServer, type Server, Socket } from 'node:net'

export type ProxyMode = 'pass' | 'refuse' | 'reset' | 'blackhole'

export interface TcpProxy {
  readonly port: number
  readonly mode: ProxyMode
  setMode(mode: ProxyMode): Promise<void>
  /** Resets every live connection, both sides. */
  cut(): void
  /** How many client connections are open now. */
  readonly connections: number
  close(): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket | null
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass'
  const pairs = new Set<Pair>()
  let server: Server | null = null
  let port = 0

  const destroyPair = (pair: Pair) => {
    pair.client.resetAndDestroy()
    pair.upstream?.resetAndDestroy()
    pairs.delete(pair)
  }

  const onConnection = (client: Socket) => {
    client.on('error', () => {})
    if (mode === 'reset') {
      client.resetAndDestroy()
      return
    }
    const pair: Pair = { client, upstream: null }
    pairs.add(pair)
    client.on('close', () => destroyPair(pair))
    if (mode === 'blackhole') {
      // Read and drop: the client's writes succeed, no answer ever comes.
      client.on('data', () => {})
      return
    }
    const upstream = new Socket()
    pair.upstream = upstream
    upstream.on('error', () => destroyPair(pair))
    upstream.on('close', () => destroyPair(pair))
    upstream.connect(target.port, target.host)
    client.on('data', (chunk) => {
      if (mode === 'blackhole') return
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (mode === 'blackhole') return
      client.write(chunk)
    })
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = createServer(onConnection)
      next.once('error', reject)
      next.listen(port, '127.0.0.1', () => {
        next.off('error', reject)
        const address = next.address()
        if (address && typeof address === 'object') port = address.port
        server = next
        resolve()
      })
    })
  // The listening socket closes at once; close()'s callback would wait for live connections.
  const unlisten = () => {
    server?.close()
    server = null
  }

  await listen()

  return {
    get port() {
      return port
    },
    get mode() {
      return mode
    },
    get connections() {
      return pairs.size
    },
    async setMode(next) {
      if (next === 'refuse') unlisten()
      if (next !== 'refuse' && !server) await listen()
      mode = next
    },
    cut() {
      for (const pair of [...pairs]) destroyPair(pair)
    },
    async close() {
      for (const pair of [...pairs]) destroyPair(pair)
      unlisten()
    },
  }
}
