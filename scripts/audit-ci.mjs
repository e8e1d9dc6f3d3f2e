#!/usr/bin/env node
// CI: audit a real production-mode server. Starts `gatehouse serve` (dist/ when built from the
// current sources, else the sources through tsx) on a free loopback port with a temporary SQLite file, creates a user,
// runs `gatehouse audit … --login … --active --json`, prints the text report, stops the server by
// its PID. Exit code: the audit's (1 on any FAIL, 2 on a usage or connection error), 1 on a
// failure of this script. Builds nothing. Usage: node scripts/audit-ci.mjs
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist/cli/index.js')

/** The newest modification time under `dir` (ms). */
function newest(dir) {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name)
      return entry.isDirectory() ? newest(path) : statSync(path).mtimeMs
    }),
  )
}

// dist/ only when it is at least as new as every source file: a stale build would audit old code.
const useDist = existsSync(dist) && statSync(dist).mtimeMs >= newest(join(root, 'src'))
const cli = useDist ? [dist] : ['--import', import.meta.resolve('tsx'), join(root, 'src/cli/index.ts')]
const STARTUP_MS = 30_000
const STOP_MS = 15_000

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Runs the CLI to completion; resolves with its exit code and output. */
function run(args, env, cwd, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cli, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

async function waitForHealth(url, server) {
  const deadline = Date.now() + STARTUP_MS
  while (Date.now() < deadline) {
    if (server.exitCode !== null)
      throw new Error(`the server exited with ${server.exitCode} before answering`)
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${url}/healthz did not answer within ${STARTUP_MS / 1000} s`)
}

function stop(server) {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.kill(server.pid, 'SIGKILL')
    }, STOP_MS)
    server.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    process.kill(server.pid, 'SIGTERM')
  })
}

async function renderText(report) {
  if (useDist) return (await import(join(root, 'dist/audit/report-text.js'))).reportText(report)
  const { register } = await import('tsx/esm/api')
  register()
  return (await import(join(root, 'src/audit/report-text.ts'))).reportText(report)
}

async function main() {
  // An empty working directory: no developer ./.env leaks into the server's configuration.
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-audit-ci-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const email = `audit-${randomBytes(4).toString('hex')}@example.com`
  const password = randomBytes(24).toString('base64url')
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? work,
    TMPDIR: process.env.TMPDIR ?? tmpdir(),
    GATEHOUSE_ENV: 'production',
    GATEHOUSE_SECRET: randomBytes(32).toString('base64url'),
    ALLOWED_HOSTS: '127.0.0.1',
    ACCOUNT_EMAILS: '0',
    DATABASE_URL: `sqlite:${join(work, 'audit.db')}`,
    HOST: '127.0.0.1',
    PORT: String(port),
    DEMO_PORT: '0',
    LOG_LEVEL: 'warn',
  }
  let server
  try {
    console.log(`audit-ci: ${useDist ? 'dist/' : 'src/ (tsx)'}, ${url}, database in ${work}`)
    const created = await run(['create-user', email], env, work, `${password}\n`)
    if (created.code !== 0) throw new Error(`create-user failed (${created.code}): ${created.stderr.trim()}`)
    server = spawn(process.execPath, [...cli, 'serve'], {
      cwd: work,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    await waitForHealth(url, server)
    const audit = await run(
      ['audit', url, '--login', email, '--active', '--json'],
      { ...env, GATEHOUSE_AUDIT_PASSWORD: password },
      work,
    )
    if (audit.stderr) process.stderr.write(audit.stderr)
    let report
    try {
      report = JSON.parse(audit.stdout)
    } catch {
      process.stdout.write(audit.stdout)
      throw new Error(`the audit printed no JSON report (exit ${audit.code})`)
    }
    process.stdout.write(await renderText(report))
    console.log(`audit-ci: exit ${audit.code}`)
    return audit.code ?? 1
  } finally {
    if (server) await stop(server)
    rmSync(work, { recursive: true, force: true })
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`audit-ci: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  },
)
