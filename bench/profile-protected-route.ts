/**
 * Where an authenticated `GET /protected-route` spends its CPU: the full server (bench/servers.ts,
 * SQLite unless BENCH_DATABASE_URL says otherwise, every default on) runs under `node --cpu-prof`
 * while autocannon loads it with a bearer token, then the profile's self time is summed by function
 * and by file (a package, a source file, or Node's internals).
 * Usage: npx tsx bench/profile-protected-route.ts  (BENCH_SECONDS=15 BENCH_CONNECTIONS=64 BENCH_TOP=25)
 * `npx tsx bench/profile-protected-route.ts some.cpuprofile` only summarises an existing profile.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

const seconds = Number(process.env.BENCH_SECONDS ?? 15)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const top = Number(process.env.BENCH_TOP ?? 25)
const root = new URL('..', import.meta.url).pathname
// `bare` profiles bench/servers.ts's bare Fastify route instead, to compare the two.
const kind = process.env.BENCH_KIND === 'bare' ? 'bare' : 'gatehouse'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** `fastify`, `src/fastify/plugin.ts`, `node:internal/…`, or `(native)` for frames with no file. */
function fileOf(url: string): string {
  if (url === '') return '(native)'
  const path = url.replace(/^file:\/\//, '')
  const packaged = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)
  if (packaged) return packaged[1]!
  if (path.startsWith(root)) return path.slice(root.length)
  return path.startsWith('node:') ? path : `node:${path}`
}

export function summarise(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  let totalUs = 0
  // timeDeltas[i] is the time before sample i: attributing it to sample i is the usual convention.
  for (let index = 0; index < profile.samples.length; index++) {
    const delta = profile.timeDeltas[index] ?? 0
    const id = profile.samples[index]!
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
    totalUs += delta
  }
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  // Inclusive time of our own functions (src/…): each sample counts once for every one on its stack.
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const inclusive = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { callFrame } = byId.get(at)!
      const file = fileOf(callFrame.url)
      if (file.startsWith('src/')) seen.add(`${callFrame.functionName || '(anonymous)'}  ${file}`)
    }
    for (const name of seen) inclusive.set(name, (inclusive.get(name) ?? 0) + us)
  }
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id)!
    const file = fileOf(callFrame.url)
    const name = `${callFrame.functionName || '(anonymous)'}  ${file}:${callFrame.lineNumber + 1}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    byFile.set(file, (byFile.get(file) ?? 0) + us)
  }
  const idleKey = [...byFunction.keys()].find((name) => name.startsWith('(idle) '))
  const idle = idleKey === undefined ? 0 : byFunction.get(idleKey)!
  if (idleKey !== undefined) byFunction.delete(idleKey)
  byFile.set('(native)', (byFile.get('(native)') ?? 0) - idle)
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1])
  return {
    totalUs,
    busyUs: totalUs - idle,
    byFunction: sorted(byFunction),
    byFile: sorted(byFile),
    inclusive: sorted(inclusive),
  }
}

function print(profile: CpuProfile, label: string): void {
  const { totalUs, busyUs, byFunction, byFile, inclusive } = summarise(profile)
  const share = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)} %`
  console.log(`${label}: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy`)
  console.log(`\nself time by file (share of busy time)`)
  for (const [file, us] of byFile.slice(0, top))
    if (file !== '(native)' || us) console.log(`${share(us)}  ${file}`)
  console.log(`\nself time by function`)
  for (const [name, us] of byFunction.slice(0, top)) console.log(`${share(us)}  ${name}`)
  console.log(`\ninclusive time of our functions (src/)`)
  for (const [name, us] of inclusive.slice(0, top)) console.log(`${share(us)}  ${name}`)
}

async function profileServer(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-profile-'))
  const child = spawn(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'bench/servers.ts', kind],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    let ready: { url: string; token: string } | null = null
    for await (const line of createInterface({ input: child.stdout! })) {
      const match = /^READY (\d+) (\S+)$/.exec(line)
      if (match) {
        ready = { url: `http://127.0.0.1:${match[1]}/protected-route`, token: match[2]! }
        break
      }
    }
    if (!ready) throw new Error('the server exited before it was ready')
    const result = await autocannon({
      url: ready.url,
      connections,
      duration: seconds,
      headers: { authorization: `Bearer ${ready.token}` },
    })
    if (result.non2xx > 0 || result.errors > 0) {
      throw new Error(`${result.non2xx} non-2xx and ${result.errors} errors: the profile would mislead`)
    }
    console.log(`${connections} connections, ${seconds} s: ${result.requests.average.toFixed(0)} req/s`)
  } finally {
    // servers.ts exits normally on SIGTERM, which is when --cpu-prof writes the profile.
    child.kill('SIGTERM')
    await exited
  }
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`)
  return join(dir, file)
}

const path = process.argv[2] ?? (await profileServer())
print(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, path)
