/**
 * `npm test`'s summary, as a developer reads it: the runner is started on a throwaway test folder
 * (node_modules linked in) whose suites skip the way ours do when a service is absent.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUNNER = join(ROOT, 'scripts', 'run-tests.mjs')
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-runner-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function runTests(files: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  mkdirSync(join(dir, 'test'), { recursive: true })
  for (const [name, source] of Object.entries(files)) writeFileSync(join(dir, 'test', name), source)
  const child = spawn(process.execPath, [RUNNER], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`runner still running:\n${stdout}`))
    }, 60_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout })
    })
  })
}

function summary(stdout: string, name: string): number {
  const value = new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(stdout)?.[1]
  assert.ok(value !== undefined, `no "ℹ ${name}" line:\n${stdout}`)
  return Number(value)
}

describe('npm test summary', { timeout: 120_000 }, () => {
  test('counts every skipped suite and skipped test in "skipped", and still fails on a failure', async () => {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
    const result = await runTests({
      'a.test.ts': `import { describe, test } from 'node:test'
for (const dialect of ['sqlite', 'postgres']) {
  describe(\`suite (\${dialect})\`, { skip: dialect === 'postgres' && 'skipped: postgres unavailable' }, () => {
    test('runs', () => {})
  })
}
describe('another suite', { skip: 'skipped: redis unavailable' }, () => {
  test('a', () => {})
  test('b', () => {})
})
test('a skipped test', { skip: 'no browser' }, () => {})
`,
    })
    assert.equal(result.code, 0, result.stdout)
    assert.equal((result.stdout.match(/# skipped: /g) ?? []).length, 2)
    assert.equal(summary(result.stdout, 'skipped'), 3, result.stdout)
    assert.equal(summary(result.stdout, 'pass'), 1)

    const failing = await runTests({
      'b.test.ts': "import { test } from 'node:test'\ntest('fails', () => { throw new Error('boom') })\n",
    })
    assert.equal(failing.code, 1)
    assert.equal(summary(failing.stdout, 'fail'), 1)
    assert.equal(summary(failing.stdout, 'skipped'), 3)
  })
})
