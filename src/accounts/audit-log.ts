import type { Kysely, Selectable } from 'kysely'
import { GatehouseError } from '../core/errors.ts'
import type { AuditEventsTable, Database } from '../store/schema.ts'
import type { EventHook, SecurityEvent } from './events.ts'
import { checkedLimit, decodeCursor, encodeCursor, MAX_ROW_ID } from './keyset-cursor.ts'

/**
 * The audit trail: the first consumer of the domain's event hook. Recording only queues; a timer
 * (or a full batch) writes the queue with one multi-row insert, so a request never waits on the
 * database for its audit line (OWASP Logging Cheat Sheet: logging must not become a denial of
 * service vector). A failed write is reported and dropped, never retried in a loop nor thrown into a
 * request. The table holds no secret: no password, token or token hash, only the public session id
 * (ASVS 5.0 V16.2.5).
 */

export interface AuditEntry {
  id: number
  at: Date
  type: string
  sessionId: string | null
  ip: string | null
  userAgent: string | null
  reason: string | null
}

/** An entry as a superuser searches the whole trail: whom it is about, and who acted. */
export interface AuditRecord extends AuditEntry {
  userId: number | null
  /** The superuser who acted on the account; null for the owner's own actions and the CLI. */
  actorId: number | null
}

export interface AuditQuery {
  /** Events about this account. */
  userId?: number
  /** Exactly this event type (`admin.user_updated`…). */
  type?: string
  /** At or after. */
  since?: Date
  /** At or before. */
  until?: Date
  /** 1..200. */
  limit: number
  /** The `nextCursor` of the previous page. */
  cursor?: string | null
}

export interface AuditPage {
  /** Newest first (by insertion order). */
  events: AuditRecord[]
  /** Null on the last page. */
  nextCursor: string | null
}

export const MAX_AUDIT_PAGE = 200

export interface AuditLogOptions {
  db: Kysely<Database>
  /** How long an event may wait in memory before it is written. */
  flushIntervalMs?: number
  /** Rows per insert; a queue this long is written at once. */
  maxBatch?: number
  /** Events held in memory at most, while the database is slow; later ones are dropped. */
  maxQueued?: number
  /** A failed write, or events dropped on a full queue; never thrown to the caller. */
  onError?: (error: unknown) => void
}

export interface AuditLogStats {
  /** Events waiting to be written. */
  queued: number
  /** Events never written: refused by a full queue or a closed log, or lost with a failed insert. */
  dropped: number
}

export interface AuditLog {
  /** The domain's event hook: synchronous, never throws, only queues. */
  record: EventHook
  /** Writes every event queued so far; never rejects (failures go to onError). */
  flush(): Promise<void>
  /** Writes what is queued and stops the timer; events recorded afterwards are dropped. */
  close(): Promise<void>
  /** One user's events, newest first, including those still queued. */
  listForUser(userId: number, limit?: number): Promise<AuditEntry[]>
  /**
   * The whole trail, newest first, a page at a time (keyset on id), including events still queued.
   * For superusers: the caller checks who asks. Bad input is a VALIDATION_FAILED on its field.
   */
  search(query: AuditQuery): Promise<AuditPage>
  /** Deletes events older than the retention; returns how many. */
  prune(retentionDays: number, now?: number): Promise<number>
  stats(): AuditLogStats
}

/**
 * Stored lengths, in characters. Every field may carry client input (the address through a proxy
 * header, a user agent, a reason echoing a request), so none is stored unbounded.
 */
const MAX_LENGTH = { type: 64, sessionId: 64, ip: 64, userAgent: 100, reason: 200 } as const
/** 8 bound values a row: 1,000 rows stay well under SQLite's 32,766 and PostgreSQL's 65,535. */
const MAX_BATCH_LIMIT = 1000
const MAX_LIST_LIMIT = 1000
const DAY_MS = 86_400_000

type AuditRow = Selectable<AuditEventsTable>
type NewAuditRow = Omit<AuditRow, 'id'>

/** Cut to `max` code points, so a surrogate pair is never split into an unstorable half. */
function truncate(value: string | null, max: number): string | null {
  if (value === null || value.length <= max) return value
  let result = ''
  let count = 0
  for (const character of value) {
    if (count === max) break
    result += character
    count++
  }
  return result
}

function toRow(event: SecurityEvent): NewAuditRow {
  return {
    created_at: event.at,
    type: truncate(String(event.type), MAX_LENGTH.type) ?? '',
    user_id: event.userId,
    actor_id: event.actorId,
    session_id: truncate(event.sessionId, MAX_LENGTH.sessionId),
    ip: truncate(event.ip, MAX_LENGTH.ip),
    user_agent: truncate(event.userAgent, MAX_LENGTH.userAgent),
    reason: truncate(event.reason, MAX_LENGTH.reason),
  }
}

/** The one place a row becomes an entry. */
function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    id: Number(row.id),
    at: new Date(Number(row.created_at)),
    type: row.type,
    sessionId: row.session_id,
    ip: row.ip,
    userAgent: row.user_agent,
    reason: row.reason,
  }
}

function toAuditRecord(row: AuditRow): AuditRecord {
  return { ...toAuditEntry(row), userId: row.user_id, actorId: row.actor_id }
}

function refuse(field: string, detail: string): never {
  throw new GatehouseError('VALIDATION_FAILED', { detail, field })
}

/** Query values come from a client: each is checked before it reaches the driver. */
function checkedQuery(query: AuditQuery) {
  const limit = checkedLimit(query.limit, MAX_AUDIT_PAGE)
  const before =
    query.cursor === undefined || query.cursor === null ? null : decodeCursor('audit', query.cursor)
  const { userId, type, since, until } = query
  if (userId !== undefined && (!Number.isSafeInteger(userId) || userId < 1 || userId > MAX_ROW_ID)) {
    refuse('userId', 'Not a user id')
  }
  if (type !== undefined && (type.length === 0 || type.length > MAX_LENGTH.type || type.includes('\u0000'))) {
    refuse('type', 'Not an event type')
  }
  for (const [field, date] of [
    ['since', since],
    ['until', until],
  ] as const) {
    if (date !== undefined && !(date instanceof Date && Number.isFinite(date.getTime()))) {
      refuse(field, 'Not a date')
    }
  }
  return { limit, before, userId, type, since: since?.getTime(), until: until?.getTime() }
}

function checkedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`)
  }
  return value
}

export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { db } = options
  const flushIntervalMs = checkedInteger('flushIntervalMs', options.flushIntervalMs ?? 1000, 1, 3_600_000)
  const maxBatch = checkedInteger('maxBatch', options.maxBatch ?? 200, 1, MAX_BATCH_LIMIT)
  const maxQueued = checkedInteger('maxQueued', options.maxQueued ?? 10_000, maxBatch, 1_000_000)
  const onError = options.onError ?? (() => {})

  const queue: NewAuditRow[] = []
  let dropped = 0
  /** Events a full queue refused since the last report: one report per flush, not one per event. */
  let refused = 0
  let closed = false
  let timer: NodeJS.Timeout | null = null
  /** The last write, so writes run one after another and in order. */
  let tail: Promise<void> = Promise.resolve()
  /** A flush that has been asked for but has not started: later asks join it. */
  let waiting: Promise<void> | null = null

  function report(error: unknown): void {
    try {
      onError(error)
    } catch {
      // A failing error handler must not turn into a failed request or an unhandled rejection.
    }
  }

  function armTimer(): void {
    if (timer !== null || closed) return
    timer = setTimeout(() => {
      timer = null
      void flush()
    }, flushIntervalMs)
    // A queued audit line must not keep a finished process alive; close() writes it.
    timer.unref()
  }

  async function write(): Promise<void> {
    if (timer !== null) {
      clearTimeout(timer)
      timer = null
    }
    // What is queued now, no more: under a steady stream of events a flush still ends.
    let remaining = queue.length
    while (remaining > 0) {
      const batch = queue.splice(0, Math.min(maxBatch, remaining))
      remaining -= batch.length
      try {
        await db.insertInto('audit_events').values(batch).execute()
      } catch (error) {
        // Dropped, not requeued: a database that is down would otherwise grow the queue forever
        // and replay stale batches; the loss is counted and reported.
        dropped += batch.length
        report(error)
      }
    }
    if (refused > 0) {
      report(new Error(`audit log: the queue was full, ${refused} events were dropped`))
      refused = 0
    }
    if (queue.length > 0) armTimer()
  }

  function flush(): Promise<void> {
    if (waiting) return waiting
    const run = tail
      .then(() => {
        waiting = null
        return write()
      })
      // write() reports its own failures; this keeps one unforeseen throw from breaking the chain.
      .catch(report)
    waiting = run
    tail = run
    return run
  }

  function record(event: SecurityEvent): void {
    try {
      if (closed) {
        dropped++
        return
      }
      // Past the bound the newest events are dropped, not the oldest: what is queued is the start
      // of the incident (the break-in before the flood), and a flood of new events must not be able
      // to push it out of the trail. Dropping at the tail also costs nothing (no array shift).
      if (queue.length >= maxQueued) {
        dropped++
        refused++
        return
      }
      queue.push(toRow(event))
      if (queue.length >= maxBatch) void flush()
      else armTimer()
    } catch (error) {
      dropped++
      report(error)
    }
  }

  return {
    record,
    flush,

    async close() {
      closed = true
      if (timer !== null) {
        clearTimeout(timer)
        timer = null
      }
      await flush()
    },

    async listForUser(userId, limit = 50) {
      checkedInteger('limit', limit, 1, MAX_LIST_LIMIT)
      // The event of the request that just happened is in the list the user opens next.
      await flush()
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('user_id', '=', userId)
        // By event time (several processes write batches of their own), then insertion order.
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute()
      return rows.map(toAuditEntry)
    },

    async search(query) {
      const { limit, before, userId, type, since, until } = checkedQuery(query)
      // As listForUser: the event of the action just taken is in the page opened next.
      await flush()
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .$if(before !== null, (qb) => qb.where('id', '<', before as number))
        .$if(userId !== undefined, (qb) => qb.where('user_id', '=', userId as number))
        .$if(type !== undefined, (qb) => qb.where('type', '=', type as string))
        .$if(since !== undefined, (qb) => qb.where('created_at', '>=', since as number))
        .$if(until !== undefined, (qb) => qb.where('created_at', '<=', until as number))
        // Insertion order, not event time: a keyset needs a unique, stable order, and ids are.
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute()
      const events = rows.slice(0, limit).map(toAuditRecord)
      const last = events.at(-1)
      return { events, nextCursor: rows.length > limit && last ? encodeCursor('audit', last.id) : null }
    },

    async prune(retentionDays, now = Date.now()) {
      if (!Number.isFinite(retentionDays) || retentionDays <= 0) {
        throw new RangeError(`retentionDays must be a positive number, got ${String(retentionDays)}`)
      }
      const result = await db
        .deleteFrom('audit_events')
        .where('created_at', '<', now - retentionDays * DAY_MS)
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },

    stats: () => ({ queued: queue.length, dropped }),
  }
}
