/**
 * What a user who installs the package gets. npm applies `overrides` only in the project that
 * declares them, never in a project that depends on us: a pin must be a real dependency.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')
const manifest = JSON.parse(read('package.json')) as {
  license: string
  overrides?: unknown
  dependencies: Record<string, string>
}
const lock = JSON.parse(read('package-lock.json')) as {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } }>
}

test('no overrides: they would not reach users, who would resolve the ranges themselves', () => {
  assert.equal(manifest.overrides, undefined)
})

test('light-my-request (fastify loads it at startup) is pinned below 6.8, which needs Node 22 through cookie 2', () => {
  assert.equal(manifest.dependencies['light-my-request'], '6.6.0')
  assert.equal(lock.packages['node_modules/light-my-request']?.version, '6.6.0')
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.endsWith('node_modules/cookie') && !entry.dev) assert.match(entry.version ?? '', /^1\./, path)
  }
})

test('a LICENSE file with the license package.json names', () => {
  assert.equal(manifest.license, 'MIT')
  const license = read('LICENSE')
  assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 The Gatehouse authors\n/)
  assert.match(license, /THE SOFTWARE IS PROVIDED "AS IS"/)
})
