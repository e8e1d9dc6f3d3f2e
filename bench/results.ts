/**
 * Benches save what they measured as bench/results/<name>.json, with the machine and the commit,
 * so bench/plot.ts draws the figures from real runs and bench/README.md can cite them.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'

const folder = new URL('./results/', import.meta.url)

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

export function saveResult(name: string, data: Record<string, unknown>): void {
  mkdirSync(folder, { recursive: true })
  const record = {
    name,
    measuredAt: new Date().toISOString(),
    commit: commit(),
    node: process.version,
    cores: cpus().length,
    loadAverage: loadavg()[0],
    ...data,
  }
  writeFileSync(new URL(`${name}.json`, folder), `${JSON.stringify(record, null, 2)}\n`)
}

export function readResult<T>(name: string): (T & { measuredAt: string; commit: string }) | null {
  try {
    return JSON.parse(readFileSync(new URL(`${name}.json`, folder), 'utf8'))
  } catch {
    return null
  }
}
