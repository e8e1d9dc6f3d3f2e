/**
 * Throttle counters shared by node:cluster workers through the primary (no Redis): a real cluster
 * of two workers hammering one key lets through the limit once, not once per worker.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const fixture = fileURLToPath(new URL('../fixtures/cluster-counters-primary.ts', import.meta.url))

interface WorkerResult {
  registered: number
  checks: number
  elapsedMs: number
  refusedAfter?: boolean
  retryAfterSeconds?: number
}

async function cluster(mode: 'shared' | 'local' | 'late' | 'unserved' | 'stuck'): Promise<WorkerResult[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, mode], {
    timeout: 30_000,
    killSignal: 'SIGKILL',
  })
  const results = JSON.parse(stdout.trim()) as WorkerResult[]
  assert.equal(results.length, 2)
  return results
}

const sum = (results: WorkerResult[], field: 'registered' | 'checks') =>
  results.reduce((total, result) => total + result[field], 0)

describe('cluster counters (the primary holds the throttle state)', () => {
  it('two workers on one key get the limit once, not twice', async () => {
    const results = await cluster('shared')
    assert.equal(sum(results, 'registered'), 20, JSON.stringify(results))
    assert.equal(sum(results, 'checks'), 10, JSON.stringify(results))
  })

  it('without them, each worker counts alone (what the test above rules out)', async () => {
    const results = await cluster('local')
    assert.equal(sum(results, 'registered'), 40, JSON.stringify(results))
    assert.equal(sum(results, 'checks'), 20, JSON.stringify(results))
  })

  it('under a primary that serves no counters, workers count alone at once (no timeout per attempt)', async () => {
    const results = await cluster('unserved')
    assert.equal(sum(results, 'registered'), 40, JSON.stringify(results))
    assert.equal(sum(results, 'checks'), 20, JSON.stringify(results))
    // Waiting for the primary would take the 2 s timeout per step of each attempt.
    for (const result of results) assert.ok(result.elapsedMs < 1500, JSON.stringify(results))
  })

  it('a primary that stops answering is waited for once (2 s timeout), then workers count alone', async () => {
    const results = await cluster('stuck')
    assert.equal(sum(results, 'registered'), 40, JSON.stringify(results))
    assert.equal(sum(results, 'checks'), 20, JSON.stringify(results))
    // A login makes three requests in a row: waiting on each would take 6 s.
    for (const result of results) assert.ok(result.elapsedMs < 4500, JSON.stringify(results))
  })

  it('a block counted while the primary did not answer is written back: both workers refuse', async () => {
    const results = await cluster('late')
    assert.equal(sum(results, 'checks'), 10, 'the guessing worker counted locally, up to its limit')
    for (const result of results) {
      assert.equal(result.refusedAfter, true, JSON.stringify(results))
      assert.ok(Number(result.retryAfterSeconds) > 890, JSON.stringify(results))
    }
  })
})
