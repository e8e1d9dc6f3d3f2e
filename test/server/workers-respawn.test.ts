/**
 * When the primary of `serve --workers N` forks a dead worker's slot again, and when it gives up.
 * The whole loop (a worker that cannot listen, five times) is seen end to end by hand: it takes
 * five start-ups, too slow for the suite under tsx; this is its policy, which decides it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { afterCrash, FAST_CRASH_MS, MAX_FAST_CRASHES } from '../../src/server/cluster.ts'

describe('respawn after a worker crash', () => {
  it('backs off exponentially while the crashes are fast, from 250 ms, and gives up at the fifth', () => {
    const delays: number[] = []
    let crashes = 0
    for (let i = 1; i < MAX_FAST_CRASHES; i++) {
      const next = afterCrash(crashes, i % 2 === 0 ? null : 50)
      assert.ok(next)
      delays.push(next.delayMs)
      crashes = next.fastCrashes
    }
    assert.deepEqual(delays, [250, 500, 1000, 2000])
    assert.equal(afterCrash(crashes, null), null)
  })

  it('forks at once, and forgets earlier crashes, after a worker that ran', () => {
    assert.deepEqual(afterCrash(MAX_FAST_CRASHES - 1, FAST_CRASH_MS), { fastCrashes: 0, delayMs: 0 })
    assert.deepEqual(afterCrash(0, 3_600_000), { fastCrashes: 0, delayMs: 0 })
  })

  it('counts a worker that never listened as a fast crash, however long its start-up took', () => {
    assert.deepEqual(afterCrash(0, null), { fastCrashes: 1, delayMs: 250 })
  })
})
