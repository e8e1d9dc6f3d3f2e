/**
 * GET /protected-route with a valid bearer token (SQLite) against a bare Fastify route returning
 * the same JSON, in one run, alternating rounds so machine noise hits both alike.
 * Usage: npm run bench  (BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_CONNECTIONS=32)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32)

interface Started {
  child: ChildProcess
  url: string
  token: string
}

async function startServer(kind: 'bare' | 'gatehouse'): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers.ts', kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })
  for await (const line of lines) {
    const match = /^READY (\d+) (\S+)$/.exec(line)
    if (match) return { child, url: `http://127.0.0.1:${match[1]}/protected-route`, token: match[2]! }
  }
  throw new Error(`${kind} server exited before it was ready`)
}

async function measure(server: Started): Promise<number> {
  const result = await autocannon({
    url: server.url,
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${server.token}` },
  })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${server.url}: ${result.non2xx} non-2xx and ${result.errors} errors`)
  }
  return result.requests.average
}

const bare = await startServer('bare')
const gatehouse = await startServer('gatehouse')
try {
  // Warm-up: JIT and SQLite page cache, not counted.
  await autocannon({ url: bare.url, connections, duration: 2 })
  await autocannon({
    url: gatehouse.url,
    connections,
    duration: 2,
    headers: { authorization: `Bearer ${gatehouse.token}` },
  })
  const bareRuns: number[] = []
  const gatehouseRuns: number[] = []
  for (let round = 0; round < rounds; round++) {
    bareRuns.push(await measure(bare))
    gatehouseRuns.push(await measure(gatehouse))
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  const ratio = mean(gatehouseRuns) / mean(bareRuns)
  console.log(`connections=${connections} seconds=${seconds} rounds=${rounds} node=${process.version}`)
  console.log(
    `bare fastify route       ${mean(bareRuns).toFixed(0)} req/s  (${bareRuns.map((r) => r.toFixed(0)).join(', ')})`,
  )
  console.log(
    `gatehouse bearer + db    ${mean(gatehouseRuns).toFixed(0)} req/s  (${gatehouseRuns.map((r) => r.toFixed(0)).join(', ')})`,
  )
  console.log(`ratio gatehouse / bare   ${ratio.toFixed(2)}`)
} finally {
  bare.child.kill()
  gatehouse.child.kill()
}
