import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/**
 * Password hashing on threads of our own at a lower CPU priority (a higher nice value) than the
 * event loop. A hash is ~20-30 ms of pure CPU: on a busy machine, a flood of logins would
 * otherwise take cores from the requests of users already signed in; with the hashing niced,
 * the kernel runs those requests first and logins wait their turn (and are shed by the admission
 * queue when they wait too long) — OWASP Denial of Service Cheat Sheet: keep expensive,
 * unauthenticated work from starving the rest. On an idle machine the priority changes nothing.
 *
 * Linux only for the priority (a thread's own nice value, set through /proc/thread-self); elsewhere
 * the threads run at normal priority. The threads are shared by every hasher in the process.
 */
export interface HashThreads {
  hash(password: string, options: Record<string, number>): Promise<string>
  /** False for a wrong password and for a stored hash the library cannot read. */
  verify(phc: string, password: string): Promise<boolean>
}

// The worker is a script, not a module file: it loads the same argon2 binding this module resolved,
// from the built package or from the sources alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop())
  if (workerData.niceness > 0) require('node:os').setPriority(tid, workerData.niceness)
} catch {}
const argon2 = require(workerData.argon2Path)
parentPort.on('message', ({ id, op, password, phc, options }) => {
  try {
    const result = op === 'hash' ? argon2.hashSync(password, options) : argon2.verifySync(phc, password)
    parentPort.postMessage({ id, result })
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) })
  }
})
`

interface Job {
  id: number
  op: 'hash' | 'verify'
  password: string
  phc?: string
  options?: Record<string, number>
  resolve(value: string | boolean): void
  reject(error: Error): void
}

interface Thread {
  worker: Worker
  job: Job | null
}

/** What the argon2 library itself threw (e.g. a stored hash it cannot parse). */
class Argon2Error extends Error {}

const argon2Path = createRequire(import.meta.url).resolve('@node-rs/argon2')
const pools = new Map<string, HashThreads>()

/** The process's pool for this size and priority (made on first use, threads started lazily). */
export function hashThreads(size: number, niceness: number): HashThreads {
  const key = `${size}:${niceness}`
  let pool = pools.get(key)
  if (pool === undefined) {
    pool = createPool(size, niceness)
    pools.set(key, pool)
  }
  return pool
}

function createPool(size: number, niceness: number): HashThreads {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('hash threads: size must be at least 1')
  if (!Number.isSafeInteger(niceness) || niceness < 0 || niceness > 19) {
    throw new RangeError('hash threads: niceness must be an integer from 0 to 19')
  }
  const threads: Thread[] = []
  const waiting: Job[] = []
  let nextId = 0

  function start(): Thread {
    // No execArgv of the parent's (a loader, `--input-type=module`): the script is plain CommonJS.
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { argon2Path, niceness },
    })
    // Idle threads never keep the process alive.
    worker.unref()
    const thread: Thread = { worker, job: null }
    worker.on('message', (message: { id: number; result?: string | boolean; error?: string }) => {
      const job = thread.job
      if (job === null || job.id !== message.id) return
      thread.job = null
      if (message.error !== undefined) job.reject(new Argon2Error(message.error))
      else job.resolve(message.result as string | boolean)
      next(thread)
    })
    // A thread that dies (out of memory) fails its job, and a new one takes its place.
    const fail = (error: Error) => {
      const index = threads.indexOf(thread)
      if (index === -1) return
      threads.splice(index, 1)
      thread.job?.reject(error)
      thread.job = null
      if (waiting.length > 0) next(start())
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`hash thread exited with code ${code}`)))
    threads.push(thread)
    return thread
  }

  function next(thread: Thread): void {
    const job = waiting.shift()
    if (job === undefined) {
      thread.worker.unref()
      return
    }
    thread.job = job
    // A busy thread keeps the process alive until its answer arrives, like pending I/O does.
    thread.worker.ref()
    thread.worker.postMessage({
      id: job.id,
      op: job.op,
      password: job.password,
      phc: job.phc,
      options: job.options,
    })
  }

  function submit(job: Omit<Job, 'id' | 'resolve' | 'reject'>): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      waiting.push({ ...job, id: nextId++, resolve, reject })
      const idle = threads.find((thread) => thread.job === null)
      if (idle) next(idle)
      else if (threads.length < size) next(start())
    })
  }

  return {
    hash: async (password, options) => (await submit({ op: 'hash', password, options })) as string,
    verify: async (phc, password) => {
      try {
        return (await submit({ op: 'verify', password, phc })) as boolean
      } catch (error) {
        // A corrupt stored hash is a failed login, not a server error; a dead thread is an error.
        if (error instanceof Argon2Error) return false
        throw error
      }
    },
  }
}
