/**
 * Production runs the compiled code (issue 8, "Run compiled code in production"): the tarball
 * `npm pack` makes holds a `dist` that starts on its own — the CLI, the library entry points, the
 * docs assets and the demo's `web/` folder, all found relative to the installed files — and
 * `npm start` hands SIGTERM to the server itself, so an orchestrator's stop drains it (exit 0)
 * instead of killing npm and orphaning the server.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>
}
const SECRET = 'package-start-test-secret-long-enough-0123456789'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor200(url: string, child: ChildProcess, timeoutMs = 20_000): Promise<Response> {
  const end = performance.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    const response = await fetch(url).catch(() => null)
    if (response?.status === 200) return response
    if (performance.now() > end) throw new Error(`no 200 from ${url} in ${timeoutMs} ms`)
    await sleep(50)
  }
}

function exitOf(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms`)), timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('the packed tarball, installed as a user gets it', () => {
  let dir: string
  let app: string
  let files: string[] = []
  const children: ChildProcess[] = []

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-package-'))
    // What `prepare` does on install; the tarball must hold today's sources compiled, not a stale dist.
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
        cwd: ROOT,
        encoding: 'utf8',
      }),
    ) as { filename: string; files: { path: string }[] }[]
    files = packed[0]!.files.map((file) => file.path)
    // node_modules/gatehouse is the tarball's content; its dependencies are the repository's own
    // installed production packages (no registry in a test), never the dev ones.
    app = join(dir, 'app')
    const modules = join(app, 'node_modules')
    mkdirSync(modules, { recursive: true })
    execFileSync('tar', ['-xzf', join(dir, packed[0]!.filename), '-C', modules])
    renameSync(join(modules, 'package'), join(modules, 'gatehouse'))
    for (const [path, entry] of Object.entries(lock.packages)) {
      const name = path.slice('node_modules/'.length)
      if (!path.startsWith('node_modules/') || name.includes('/node_modules/') || entry.dev) continue
      mkdirSync(dirname(join(modules, name)), { recursive: true })
      symlinkSync(join(ROOT, path), join(modules, name))
    }
  })

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('holds the compiled CLI, library, declarations and web/, and none of src/ or test/', () => {
    for (const path of ['dist/cli/index.js', 'dist/index.js', 'dist/index.d.ts', 'dist/core/index.js']) {
      assert.ok(files.includes(path), `${path} is not in the tarball`)
    }
    assert.ok(files.includes('web/index.html'), 'web/index.html is not in the tarball')
    assert.deepEqual(
      files.filter(
        (path) =>
          /^(src|test|bench|scripts)\//.test(path) || (path.endsWith('.ts') && !path.endsWith('.d.ts')),
      ),
      [],
    )
  })

  it('the installed bin prints the version read from its own package.json', () => {
    const bin = join(app, 'node_modules/gatehouse/dist/cli/index.js')
    assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/)
    const out = execFileSync(process.execPath, [bin, '--version'], { cwd: app, encoding: 'utf8' })
    assert.equal(out.trim(), manifest.version)
  })

  it('both entry points import by package name, without tsx', () => {
    const script =
      "const [main, core] = await Promise.all([import('gatehouse'), import('gatehouse/core')]);" +
      'console.log(JSON.stringify([typeof main.gatehousePlugin, Object.keys(core).length > 0]))'
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      encoding: 'utf8',
    })
    assert.deepEqual(JSON.parse(out), ['function', true])
  })

  it('`gatehouse serve` from the install answers /healthz, the docs, a registration and the demo page, and exits 0 on SIGTERM', async () => {
    const [port, demoPort] = [await freePort(), await freePort()]
    const child = spawn(process.execPath, ['node_modules/gatehouse/dist/cli/index.js', 'serve'], {
      cwd: app,
      stdio: 'ignore',
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        DEMO_PORT: String(demoPort),
        DATABASE_URL: `sqlite:${join(app, 'gatehouse.db')}`,
        GATEHOUSE_SECRET: SECRET,
        ACCOUNT_EMAILS: '0',
        LOG_LEVEL: 'warn',
      },
    })
    children.push(child)
    const health = await waitFor200(`http://127.0.0.1:${port}/healthz`, child)
    assert.deepEqual(await health.json(), { status: 'ok' })
    const docs = await fetch(`http://127.0.0.1:${port}/docs`)
    assert.equal(docs.status, 200)
    assert.match(docs.headers.get('content-type') ?? '', /^text\/html/)
    // The password blocklist is read from a dependency at run time, argon2 is a native module.
    const register = (password: string) =>
      fetch(`http://127.0.0.1:${port}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'user@example.com', password }),
      })
    assert.equal((await (await register('qwertyuiop')).json()).code, 'PASSWORD_TOO_COMMON')
    assert.equal((await register('a long and unusual passphrase')).status, 201)
    const demo = await waitFor200(`http://127.0.0.1:${demoPort}/`, child)
    assert.match(await demo.text(), /<html/i)
    child.kill('SIGTERM')
    assert.equal(await exitOf(child), 0)
  })
})

describe('npm start', () => {
  let dir: string
  let serverPid = 0
  let npm: ChildProcess | undefined

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-npm-start-'))
  })
  after(() => {
    if (npm?.exitCode === null) npm.kill('SIGKILL')
    if (serverPid && isAlive(serverPid)) process.kill(serverPid, 'SIGKILL')
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('runs node on dist (no tsx), and SIGTERM to npm reaches the server, which exits 0', async () => {
    const port = await freePort()
    npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        PORT: String(port),
        DEMO_PORT: '0',
        DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
        GATEHOUSE_SECRET: SECRET,
        ACCOUNT_EMAILS: '0',
        LOG_LEVEL: 'info',
      },
    })
    let log = ''
    npm.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk
    })
    await waitFor200(`http://127.0.0.1:${port}/healthz`, npm)
    serverPid = Number(/"pid":(\d+)/.exec(log)?.[1])
    assert.ok(serverPid > 0 && serverPid !== npm.pid, 'the server logs its own pid')
    const command = readFileSync(`/proc/${serverPid}/cmdline`, 'utf8').split('\0').filter(Boolean)
    assert.deepEqual(command.slice(1), ['dist/cli/index.js', 'serve'])
    npm.kill('SIGTERM')
    // npm forwards the signal to its child; a shell in between (`sh -c "node …"`) would take it
    // and die, leaving npm to exit 143 and the server running on, orphaned.
    assert.equal(await exitOf(npm), 0)
    assert.equal(isAlive(serverPid), false, 'the server is still running after npm exited')
  })
})
