/**
 * `npm run example -- <name>`: starts examples/<name>.ts on PORT (default 8000) and HOST
 * (default 127.0.0.1). Each example exports `build(): Promise<FastifyInstance>`.
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

const available = readdirSync(new URL('.', import.meta.url))
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => file.slice(0, -3))

/** One line on stderr and exit 1: a user gets the reason, not a stack trace. */
function fail(message: string): never {
  console.error(`example: ${message}`)
  process.exit(1)
}

const name = process.argv[2]
if (!name || !available.includes(name)) {
  console.error(`usage: npm run example -- <name>\navailable: ${available.join(', ')}`)
  process.exit(2)
}

const portText = process.env.PORT ?? '8000'
const port = Number(portText)
if (!/^\d+$/.test(portText) || port > 65535)
  fail(`PORT must be an integer from 0 to 65535, not "${portText}"`)
const host = process.env.HOST ?? '127.0.0.1'

const example = (await import(`./${name}.ts`)) as { build(): Promise<FastifyInstance> }
const app = await example.build()
try {
  await app.listen({ host, port })
} catch (error) {
  await app.close().catch(() => {})
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE')
    fail(`port ${port} on ${host} is already in use (is the server running?); set PORT to another port`)
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') fail(`cannot listen on HOST ${host}`)
  if (code === 'EACCES') fail(`no permission to listen on port ${port}; use a port above 1023`)
  fail(error instanceof Error ? error.message : String(error))
}
console.log(`example "${name}" on http://localhost:${port}`)

let stopping = false
function stop(): void {
  if (stopping) return
  stopping = true
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, stop)
stopWhenOrphaned()

/**
 * `npm run example` is npm → sh → tsx → this process. A SIGTERM to npm reaches sh only; sh dies
 * without passing it on, and tsx and this server would keep the port forever. So: stop when our
 * parent (tsx) loses its own parent. Linux only (/proc); elsewhere signal the process group.
 */
function stopWhenOrphaned(): void {
  const parentOf = (pid: number): number | undefined => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      return undefined
    }
  }
  const parent = process.ppid
  const grandparent = parentOf(parent)
  if (grandparent === undefined) return
  setInterval(() => {
    if (process.ppid !== parent || parentOf(parent) !== grandparent) stop()
  }, 500).unref()
}
