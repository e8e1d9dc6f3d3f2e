/**
 * Time from spawning the server to its first 200 on /healthz: the old `npm start` (tsx compiling
 * the sources on the fly) against the compiled `node dist/cli/index.js serve`, and `npm start`
 * itself (npm's own start-up on top). Runs alternate (A, B, C, A, B, C, …) so machine noise hits
 * every variant alike; the medians are compared, never a lone figure.
 * Needs `npm run build` first. Usage: npx tsx bench/start-up-time.ts  (BENCH_RUNS=10)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { saveResult } from './results.ts'

const runs = Number(process.env.BENCH_RUNS ?? 10)
const root = new URL('..', import.meta.url).pathname

const VARIANTS: Record<string, string[]> = {
  'tsx src/cli/index.ts serve': [join(root, 'node_modules/.bin/tsx'), 'src/cli/index.ts', 'serve'],
  'node dist/cli/index.js serve': [process.execPath, 'dist/cli/index.js', 'serve'],
  'npm start': ['npm', 'start', '--silent'],
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.end()
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

async function timeToFirst200(command: string[], databaseUrl: string): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    stdio: 'ignore',
    env: {
      ...process.env,
      PORT: String(port),
      DEMO_PORT: '0',
      DATABASE_URL: databaseUrl,
      ACCOUNT_EMAILS: '0',
      LOG_LEVEL: 'warn',
      GATEHOUSE_SECRET: 'bench-secret-bench-secret-bench-secret',
    },
  })
  try {
    while (!(await healthy(port))) {
      if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited with ${child.exitCode}`)
      if (performance.now() - started > 30_000) throw new Error(`${command.join(' ')}: no 200 in 30 s`)
      await sleep(5)
    }
    return performance.now() - started
  } finally {
    child.kill('SIGTERM')
    const code = await exited(child)
    if (code !== 0) console.error(`${command.join(' ')} exited with ${code} on SIGTERM`)
  }
}

if (!existsSync(join(root, 'dist/cli/index.js'))) {
  console.error('dist/cli/index.js is missing: run `npm run build` first')
  process.exit(1)
}
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-start-up-'))
const databaseUrl = `sqlite:${join(dir, 'start-up.db')}`
try {
  // Migrates the database once, so every counted run opens an up-to-date one.
  await timeToFirst200(VARIANTS['node dist/cli/index.js serve']!, databaseUrl)
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(VARIANTS).map((name) => [name, []]))
  for (let run = 0; run < runs; run++) {
    for (const [name, command] of Object.entries(VARIANTS)) {
      times[name]!.push(await timeToFirst200(command, databaseUrl))
    }
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b)
    const middle = Math.floor(sorted.length / 2)
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
  }
  const baseline = median(times['tsx src/cli/index.ts serve']!)
  console.log(`runs=${runs} node=${process.version}  time from spawn to the first 200 on /healthz`)
  const summary: Record<string, { medianMs: number; ratioToTsx: number; runsMs: number[] }> = {}
  for (const [name, values] of Object.entries(times)) {
    const value = median(values)
    summary[name] = { medianMs: value, ratioToTsx: value / baseline, runsMs: values }
    console.log(
      `${name.padEnd(30)} median ${value.toFixed(0).padStart(5)} ms  ×${(value / baseline).toFixed(2)}` +
        `  (${values.map((v) => v.toFixed(0)).join(', ')})`,
    )
  }
  saveResult('start-up-time', { runs, variants: summary })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
