/**
 * Hashing threads: argon2id on threads of our own, at a lower CPU priority than the event loop,
 * interchangeable with the library's own hashing, bounded in number, and never keeping the process
 * alive. The priority is read back from the kernel (/proc), not assumed.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { hash, verify } from '@node-rs/argon2'
import { DEFAULT_ARGON2_PARAMETERS } from '../../../src/core/passwords/argon2id.ts'
import { hashThreads } from '../../../src/core/passwords/hash-threads.ts'
import { createPasswordHasher } from '../../../src/core/passwords/hasher.ts'

const ARGON2ID = 2
const options = { ...DEFAULT_ARGON2_PARAMETERS, algorithm: ARGON2ID }
const isLinux = existsSync('/proc/thread-self')

/** How many of this process's threads run at this nice value (field 19 of /proc/<tid>/stat). */
function threadsAtNiceness(niceness: number): number {
  let count = 0
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      if (Number(fields[16]) === niceness) count++
    } catch {
      // The thread ended while we looked.
    }
  }
  return count
}

describe('hash threads', () => {
  it('hash and verify interchangeably with the library’s own hashing', async () => {
    const threads = hashThreads(1, 7)
    const fromThreads = await threads.hash('correct horse battery', options)
    assert.match(fromThreads, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    assert.equal(await verify(fromThreads, 'correct horse battery'), true)
    const fromLibrary = await hash('another password', options)
    assert.equal(await threads.verify(fromLibrary, 'another password'), true)
    assert.equal(await threads.verify(fromLibrary, 'wrong password'), false)
  })

  it('answers false, not an error, for a stored hash that cannot be read', async () => {
    assert.equal(await hashThreads(1, 7).verify('$argon2id$v=19$m=19456,t=2,p=1$garbage', 'x'), false)
  })

  it('runs at the nice value asked for, and never more threads than its size', {
    skip: !isLinux && 'Linux only (/proc)',
  }, async () => {
    assert.equal(threadsAtNiceness(13), 0)
    const threads = hashThreads(2, 13)
    const hashes = await Promise.all(
      Array.from({ length: 6 }, (_, i) => threads.hash(`password ${i}`, options)),
    )
    assert.equal(new Set(hashes).size, 6)
    assert.equal(threadsAtNiceness(13), 2, 'two threads, both niced to 13')
  })

  it('serves a password hasher: a right and a wrong password, and the dummy verify', async () => {
    const hasher = createPasswordHasher(undefined, { threads: hashThreads(1, 7) })
    const stored = await hasher.hash('the right password')
    assert.deepEqual(await hasher.verifyAndUpgrade('the right password', stored), {
      valid: true,
      upgradedHash: null,
    })
    assert.equal((await hasher.verifyAndUpgrade('the wrong password', stored)).valid, false)
    assert.equal(await hasher.verifyDummy('anything'), false)
  })

  it('refuses a size or nice value out of range', () => {
    assert.throws(() => hashThreads(0, 10), /size/)
    assert.throws(() => hashThreads(1, 20), /niceness/)
    assert.throws(() => hashThreads(1, -1), /niceness/)
  })

  it('does not keep the process alive once the hashing is done', () => {
    const script = `
      import { hashThreads } from './src/core/passwords/hash-threads.ts'
      const hash = await hashThreads(1, 10).hash('p', { memoryCost: 19456, timeCost: 2, parallelism: 1, algorithm: 2 })
      console.log(hash.slice(0, 9))
    `
    const started = Date.now()
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    assert.equal(result.status, 0, result.stderr)
    assert.equal(result.stdout.trim(), '$argon2id')
    assert.ok(Date.now() - started < 15_000, 'exited on its own')
  })
})
