import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { enqueueMail } from '../../src/accounts/outbox.ts'
import {
  claimDueMail,
  markDropped,
  markFailed,
  markRetry,
  markSent,
  pruneFinishedMail,
} from '../../src/mail/outbox-queue.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'

const T0 = 1_800_000_000_000
const LEASE = 60_000

for (const { dialect, skip, create } of dialects()) {
  describe(`outbox queue on ${dialect}`, { skip }, () => {
    let store: (Store & { url: string }) | undefined
    const db = () => {
      if (!store) throw new Error('no store')
      return store.db
    }
    const queue = async (count: number, now = T0) => {
      for (let i = 0; i < count; i++) {
        await enqueueMail(
          db(),
          { purpose: 'password-reset', recipient: `user${i}@example.com`, userId: null },
          now,
        )
      }
    }
    const row = (id: number) =>
      db().selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow()

    before(async () => {
      store = await openTestStore(create)
    })
    after(async () => {
      await store?.close()
    })
    beforeEach(async () => {
      await db().deleteFrom('outbox').execute()
    })

    it('claims due rows oldest first, leases them and counts the attempt', async () => {
      await queue(3)
      const claimed = await claimDueMail(db(), dialect, { limit: 2, leaseMs: LEASE, now: T0 })
      assert.equal(claimed.length, 2)
      assert.ok((claimed[0]?.id ?? 0) < (claimed[1]?.id ?? 0))
      for (const claim of claimed) {
        assert.equal(claim.attempts, 1)
        assert.equal(claim.locked_until, T0 + LEASE)
        assert.equal(claim.status, 'pending')
        assert.equal((await row(claim.id)).locked_until, T0 + LEASE)
      }
      // A leased row is nobody else's until the lease ends.
      const rest = await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: T0 + 1 })
      assert.equal(rest.length, 1)
      assert.equal((await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: T0 + 2 })).length, 0)
      // A worker that died holding a claim only delays its rows.
      const reclaimed = await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: T0 + LEASE + 1 })
      assert.equal(reclaimed.length, 2)
      assert.deepEqual(
        reclaimed.map((r) => r.attempts),
        [2, 2],
      )
    })

    it('leaves rows not yet due and finished rows alone', async () => {
      await queue(1, T0 + 10_000)
      assert.equal((await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: T0 })).length, 0)
      const [due] = await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: T0 + 10_000 })
      assert.ok(due)
      await markSent(db(), due.id, T0 + 10_001)
      assert.equal(
        (await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: T0 + 10 * LEASE })).length,
        0,
      )
      const sent = await row(due.id)
      assert.equal(sent.status, 'sent')
      assert.equal(sent.finished_at, T0 + 10_001)
      assert.equal(sent.locked_until, null)
    })

    it('a retry releases the row until its next attempt, then fails it after maxAttempts', async () => {
      await queue(1)
      let now = T0
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [claim] = await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now })
        assert.ok(claim, `attempt ${attempt} claimed`)
        assert.equal(claim.attempts, attempt)
        const status = await markRetry(db(), claim.id, {
          error: `ECONNREFUSED: attempt ${attempt}\nsecond line`,
          nextAttemptAt: now + 1_000,
          now,
          maxAttempts: 3,
        })
        const stored = await row(claim.id)
        assert.equal(stored.last_error, `ECONNREFUSED: attempt ${attempt} second line`)
        assert.equal(stored.locked_until, null)
        if (attempt < 3) {
          assert.equal(status, 'pending')
          assert.equal(stored.status, 'pending')
          assert.equal(stored.next_attempt_at, now + 1_000)
          assert.equal(stored.finished_at, null)
          // Not before its next attempt.
          assert.equal(
            (await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: now + 999 })).length,
            0,
          )
        } else {
          assert.equal(status, 'failed')
          assert.equal(stored.status, 'failed')
          assert.equal(stored.finished_at, now)
        }
        now += 1_000
      }
      assert.equal(
        (await claimDueMail(db(), dialect, { limit: 10, leaseMs: LEASE, now: now + 10 * LEASE })).length,
        0,
      )
    })

    it('stores a long error cut short', async () => {
      await queue(1)
      const [claim] = await claimDueMail(db(), dialect, { limit: 1, leaseMs: LEASE, now: T0 })
      assert.ok(claim)
      await markRetry(db(), claim.id, { error: 'x'.repeat(5_000), nextAttemptAt: T0, now: T0 })
      assert.ok(((await row(claim.id)).last_error ?? '').length <= 256)
    })

    it('dropped and failed rows are finished; a late drop or retry never reopens a sent row', async () => {
      await queue(3)
      const [a, b, c] = await claimDueMail(db(), dialect, { limit: 3, leaseMs: LEASE, now: T0 })
      assert.ok(a && b && c)
      await markDropped(db(), a.id, T0 + 1)
      await markFailed(db(), b.id, { error: 'EENVELOPE: 550 no such user', now: T0 + 2 })
      await markSent(db(), c.id, T0 + 3)
      assert.equal((await row(a.id)).status, 'dropped')
      assert.equal((await row(a.id)).finished_at, T0 + 1)
      assert.equal((await row(b.id)).status, 'failed')
      assert.equal((await row(b.id)).last_error, 'EENVELOPE: 550 no such user')
      assert.equal(
        await markRetry(db(), c.id, { error: 'late', nextAttemptAt: T0, now: T0 + 4 }),
        null,
        'a worker whose lease ran out cannot reopen a row another one sent',
      )
      await markDropped(db(), c.id, T0 + 5)
      assert.equal((await row(c.id)).status, 'sent')
    })

    it('prunes only finished rows older than the retention', async () => {
      await queue(4)
      const [sentOld, droppedOld, sentNew] = await claimDueMail(db(), dialect, {
        limit: 3,
        leaseMs: LEASE,
        now: T0,
      })
      assert.ok(sentOld && droppedOld && sentNew)
      await markSent(db(), sentOld.id, T0)
      await markDropped(db(), droppedOld.id, T0)
      await markSent(db(), sentNew.id, T0 + 50_000)
      const deleted = await pruneFinishedMail(db(), 60_000, T0 + 100_000)
      assert.equal(deleted, 2)
      const left = await db().selectFrom('outbox').select(['id', 'status']).orderBy('id').execute()
      assert.deepEqual(
        left.map((r) => r.status),
        ['sent', 'pending'],
      )
    })

    it('two stores claiming at once never get the same row', async () => {
      if (!store) throw new Error('no store')
      await queue(40)
      const other = openStore(store.url)
      try {
        const claims = await Promise.all(
          [store.db, other.db, store.db, other.db].map((handle) =>
            claimDueMail(handle, dialect, { limit: 15, leaseMs: LEASE, now: T0 }),
          ),
        )
        const ids = claims.flat().map((r) => r.id)
        assert.equal(ids.length, 40)
        assert.equal(new Set(ids).size, 40)
        const attempts = await db().selectFrom('outbox').select('attempts').execute()
        assert.ok(attempts.every((r) => r.attempts === 1))
      } finally {
        await other.close()
      }
    })
  })
}
