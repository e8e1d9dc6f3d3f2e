/**
 * `npm run example -- <name>` as a user runs it: real processes, a real port, real signals.
 * Every process here is one this file started, in a process group of its own, killed at the end.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TSX = import.meta.resolve('tsx')
const CHILD_TIMEOUT_MS = 30_000
const SUITE_TIMEOUT = { timeout: 120_000 }

const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-run-'))
const groups = new Set<number>()

after(() => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {}
  }
  rmSync(workDir, { recursive: true, force: true })
})

function env(port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    DATABASE_URL: `sqlite:${join(workDir, `example-${port}.db`)}`,
  }
}

/** Starts a command as the leader of a new process group, collecting its output. */
function start(command: string, args: string[], port: number) {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: env(port),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  assert.ok(child.pid, 'no PID')
  groups.add(child.pid)
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const finished = exited(child, () => ({ stdout, stderr }))
  finished.catch(() => {}) // awaited only where the test needs the result
  return { child, pid: child.pid, finished, output: () => ({ stdout, stderr }) }
}

function exited(child: ChildProcess, output: () => { stdout: string; stderr: string }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`still running after ${CHILD_TIMEOUT_MS} ms`)),
      CHILD_TIMEOUT_MS,
    ).unref()
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, ...output() })
    })
  })
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  const address = server.address()
  assert.ok(address && typeof address === 'object')
  return address.port
}

async function freePort(): Promise<number> {
  const server = createServer()
  const port = await listen(server)
  await new Promise((resolve) => server.close(resolve))
  return port
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.setTimeout(1000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

/** PIDs still alive (zombies excluded) in process group `pgid`, from /proc. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        return Number(group) === pgid && state !== 'Z'
      } catch {
        return false
      }
    })
    .map(Number)
}

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return check()
}

describe('npm run example', SUITE_TIMEOUT, () => {
  test('a port already in use: one clear line on stderr naming the port and PORT, exit code 1', async () => {
    const blocker = createServer()
    const port = await listen(blocker)
    try {
      const runner = start(process.execPath, ['--import', TSX, 'examples/run.ts', 'authentication'], port)
      const result = await runner.finished
      assert.equal(result.code, 1, result.stderr)
      const lines = result.stderr.trim().split('\n')
      assert.equal(lines.length, 1, `more than one line:\n${result.stderr}`)
      assert.match(lines[0] ?? '', new RegExp(`port ${port} .*already in use.*PORT`))
      assert.doesNotMatch(result.stderr, /EADDRINUSE|\bat \S+:\d+/)
      assert.doesNotMatch(result.stdout, /example "authentication" on/)
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })

  test('a PORT that is not a port number: one clear line, exit code 1', async () => {
    const runner = spawn(process.execPath, ['--import', TSX, 'examples/run.ts', 'authentication'], {
      cwd: ROOT,
      env: { ...env(0), PORT: '80a' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    runner.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    const result = await exited(runner, () => ({ stdout: '', stderr }))
    assert.equal(result.code, 1)
    assert.equal(result.stderr.trim(), 'example: PORT must be an integer from 0 to 65535, not "80a"')
  })

  test('SIGTERM to the npm process stops the example server under it and frees the port', async (t) => {
    if (!existsSync('/proc/self/stat')) return t.skip('needs /proc to list the process group')
    const port = await freePort()
    const npm = start('npm', ['run', 'example', '--', 'authentication'], port)
    assert.ok(
      await until(
        () => npm.output().stdout.includes(`example "authentication" on http://localhost:${port}`),
        20_000,
      ),
      `the example did not start:\n${npm.output().stdout}\n${npm.output().stderr}`,
    )
    assert.equal(await accepts(port), true)
    assert.ok(groupMembers(npm.pid).length >= 3, 'expected npm, sh, tsx and node in the group')

    process.kill(npm.pid, 'SIGTERM')
    // Not npm's 'close': a leftover server would hold npm's stdout open and it would never come.
    assert.ok(
      await until(() => groupMembers(npm.pid).length === 0, 10_000),
      `still running after SIGTERM to npm: ${groupMembers(npm.pid).join(', ')}`,
    )
    assert.equal(await accepts(port), false, 'the port is still open')
  })

  test('SIGTERM to the process group stops everything and frees the port', async () => {
    const port = await freePort()
    const npm = start('npm', ['run', 'example', '--', 'authentication'], port)
    assert.ok(
      await until(() => npm.output().stdout.includes(`on http://localhost:${port}`), 20_000),
      npm.output().stderr,
    )
    process.kill(-npm.pid, 'SIGTERM')
    assert.ok(await until(async () => !(await accepts(port)), 5000), 'the port is still open')
    // The port closes before the processes are gone: give them the time to exit.
    if (existsSync('/proc/self/stat')) {
      assert.ok(
        await until(() => groupMembers(npm.pid).length === 0, 10_000),
        `still running: ${groupMembers(npm.pid).join(', ')}`,
      )
    }
  })
})
