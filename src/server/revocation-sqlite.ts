import { type Kysely, sql } from 'kysely'
import {
  type ChannelLog,
  createLinkState,
  createListenerSet,
  createPublishLog,
  encodeRevocation,
  type RevocationChannel,
} from '../accounts/revocation-channel.ts'
import type { Database } from '../store/schema.ts'

/** How often a process looks for revocations made by the others: the bound while it is up. */
export const SQLITE_POLL_MS = 100
/** Rows are kept this long: far past any poll, and past the longest cache TTL worth having. */
const RETENTION_MS = 3_600_000
const PRUNE_EVERY_MS = 60_000
const BATCH = 500

/** A file not yet migrated to 003 (an older schema): not an outage, just no log to read or write. */
const isMissingTable = (error: unknown) =>
  error instanceof Error && error.message.includes('no such table: revocation_events')

export interface SqliteRevocationOptions {
  db: Kysely<Database>
  log: ChannelLog
  ttlSeconds: number
  /** False in the CLI: it publishes only. */
  listen?: boolean
  pollMs?: number
}

/**
 * Revocations between processes on one SQLite file, without Redis: every revocation is a row of
 * `revocation_events` (migration 003), and every process reads the rows past the last id it saw,
 * every 100 ms. One indexed read of a table that holds an hour of revocations: microseconds, on a
 * local file, no network. It reaches what no pipe can: the CLI in its own process, or a second
 * `serve` on the same file. (Workers of one cluster also hear each other at once over IPC.)
 * A read that fails (the file busy past the timeout, the disk gone) is the channel down: the TTL
 * bounds it, and once reads work again the cache is flushed.
 */
export function sqliteRevocationChannel(options: SqliteRevocationOptions): RevocationChannel {
  const { db } = options
  const listeners = createListenerSet()
  const link = createLinkState({
    name: 'SQLite revocation log',
    ttlSeconds: options.ttlSeconds,
    log: options.log,
    listeners,
  })
  let lastId: number | null = null
  let polling = false
  let closed = false
  const publishLog = createPublishLog({
    ttlSeconds: options.ttlSeconds,
    log: options.log,
    peers: 'processes',
  })
  let prunedAt = 0
  let saidMissing = false
  const missingTable = () => {
    if (saidMissing) return
    saidMissing = true
    options.log.info(
      'revocation log table missing (migration 003-revocation-epoch not applied): revocations by other ' +
        `processes on this SQLite file are honoured within TOKEN_CACHE_SECONDS (${options.ttlSeconds} s)`,
    )
  }

  const poll = async () => {
    if (polling || closed) return
    polling = true
    try {
      if (lastId === null) {
        // Only what is revoked from now on: this process's cache starts empty.
        const { rows } = await sql<{
          id: number | null
        }>`select max(id) as id from revocation_events`.execute(db)
        lastId = rows[0]?.id ?? 0
      }
      for (;;) {
        const { rows } = await sql<{ id: number; revocation: string }>`
          select id, revocation from revocation_events where id > ${lastId} order by id limit ${BATCH}`.execute(
          db,
        )
        // Ids grow by one per revocation (one writer, in commit order): a gap means rows were
        // pruned before this process read them (it was stopped for an hour), so it may have missed some.
        if (rows.length > 0 && rows[0]!.id > lastId + 1 && lastId > 0) listeners.missed()
        for (const row of rows) listeners.deliver(row.revocation)
        if (rows.length > 0) lastId = rows[rows.length - 1]!.id
        if (rows.length < BATCH) break
      }
      link.up()
    } catch (error) {
      if (isMissingTable(error)) missingTable()
      else link.down(error)
    } finally {
      polling = false
    }
  }

  let timer: NodeJS.Timeout | undefined
  if (options.listen !== false) {
    void poll()
    timer = setInterval(poll, options.pollMs ?? SQLITE_POLL_MS)
    timer.unref()
  }

  return {
    async publish(revocation) {
      const now = Date.now()
      try {
        await sql`insert into revocation_events (revocation, created_at) values (${encodeRevocation(revocation)}, ${now})`.execute(
          db,
        )
        if (now - prunedAt > PRUNE_EVERY_MS) {
          prunedAt = now
          await sql`delete from revocation_events where created_at < ${now - RETENTION_MS}`.execute(db)
        }
        publishLog.succeeded()
      } catch (error) {
        if (isMissingTable(error)) return missingTable()
        publishLog.failed(error)
      }
    },
    subscribe: (listener) => listeners.add(listener),
    async close() {
      closed = true
      clearInterval(timer)
    },
  }
}
