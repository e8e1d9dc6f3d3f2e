/**
 * Servers the audit tests point at: Gatehouse itself in production mode on a real port, and tiny
 * node:http apps that each get one thing deliberately wrong. Every server counts the requests it
 * receives, so the request budget can be checked from the server's side.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { startTestApp } from '../helpers/test-app.ts'

export interface Running {
  url: string
  /** Requests received so far. */
  count(): number
  close(): Promise<void>
}

export type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void

/** A node:http server on 127.0.0.1:0 calling `handler` with the whole request body. */
export async function startServer(handler: Handler): Promise<Running> {
  let received = 0
  const server: Server = createServer((request, response) => {
    received++
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => {
      body += chunk
    })
    request.on('end', () => handler(request, body, response))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function json(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers })
  response.end(JSON.stringify(value))
}

/** The headers our own API sends, so a weak server is weak in one respect only. */
export const GOOD_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

export function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    if (key === name) return value.join('=')
  }
  return undefined
}

export const AUDIT_EMAIL = 'auditor@example.com'
export const AUDIT_PASSWORD = 'Audit-Test-Passw0rd-long!'

/** Gatehouse as production runs it (GATEHOUSE_ENV=production), listening on 127.0.0.1, with one user. */
export async function startGatehouse(env: Record<string, string> = {}): Promise<Running> {
  let received = 0
  const running = await startTestApp({
    create: createSqliteDatabase,
    env: { GATEHOUSE_ENV: 'production', ACCOUNT_EMAILS: '0', ALLOWED_HOSTS: '127.0.0.1,localhost', ...env },
  })
  await running.app.gatehouse.accounts.createUser({
    email: AUDIT_EMAIL,
    password: AUDIT_PASSWORD,
    isSuperuser: false,
  })
  await running.app.listen({ host: '127.0.0.1', port: 0 })
  // Counted at the socket: every request that reaches the server, whatever Fastify does with it.
  running.app.server.on('request', () => {
    received++
  })
  const { port } = running.app.server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, count: () => received, close: () => running.close() }
}

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
  elapsedMs: number
}

/** `gatehouse <args>` as a real child process (stdout not a TTY), killed after `limitMs`. */
export function gatehouseCli(
  args: string[],
  env: Record<string, string> = {},
  limitMs = 60_000,
): Promise<CliResult> {
  const started = Date.now()
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`gatehouse ${args.join(' ')} still running after ${limitMs} ms\n${stdout}\n${stderr}`))
    }, limitMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started })
    })
  })
}

export function assertFinding(
  findings: { id: string; status: string; asvs: string }[],
  id: string,
  status: string,
  asvs: string,
): void {
  const found = findings.find((finding) => finding.id === id)
  assert.ok(found, `no finding ${id}`)
  assert.equal(found.status, status, `${id}: ${JSON.stringify(found)}`)
  assert.equal(found.asvs, asvs, id)
}
