#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own runner (Node 20 has no glob for --test).
// Usage: npm test [-- path-fragment ...]   e.g. `npm test -- csrf store`
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return findTests(path)
    return entry.name.endsWith('.test.ts') ? [path] : []
  })
}

const filters = process.argv.slice(2)
const files = findTests('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort()
if (files.length === 0) {
  console.error(`no test file matches ${filters.join(', ')}`)
  process.exit(1)
}
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-reporter=${fileURLToPath(new URL('./test-reporter.mjs', import.meta.url))}`,
    '--test-timeout=120000',
    ...files,
  ],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
