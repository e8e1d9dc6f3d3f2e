import { summarizeUserAgent } from './user-agent.ts'

/**
 * Security events, as the domain reports them to one hook (`onEvent`): the audit trail is its first
 * consumer; an application may add its own (alerting, metrics). An event never carries a secret:
 * no password, no token, no token hash (OWASP Logging Cheat Sheet, "Data to exclude"; ASVS 5.0
 * V16.2.5).
 */
export type SecurityEventType =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.throttled'
  | 'logout'
  | 'session.revoked'
  | 'password.changed'
  | 'password.reset'
  | 'password.reset_requested'
  | 'email.changed'
  | 'email.verified'
  | 'email.verification_requested'
  | 'csrf.refused'
  | 'token.kind_mismatch'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'admin.user_updated'
  | 'admin.user_deleted'
  | 'admin.sessions_revoked'

/** Who asked: the client's address (as the adapter resolved it) and its user agent. */
export interface ClientInfo {
  ip: string
  /** The raw User-Agent header; summarised (summarizeUserAgent) before anything stores it. */
  userAgent?: string | null
}

export interface SecurityEvent {
  type: SecurityEventType
  /** Epoch milliseconds. */
  at: number
  /** The account concerned, when known (never guessed from an email that may not exist). */
  userId: number | null
  /** Who acted on that account when it was not its owner (a superuser's id); null otherwise. */
  actorId: number | null
  /** The public id of the session concerned (never the token or its hash). */
  sessionId: string | null
  ip: string | null
  /** The user agent's summary ("Firefox 128 on Linux"), never the raw header. */
  userAgent: string | null
  /** Why, for failures and revocations: `bad_credentials`, `unverified`, `other_sessions`… */
  reason: string | null
}

export type EventHook = (event: SecurityEvent) => void

export interface EventDetails {
  userId?: number | null
  actorId?: number | null
  sessionId?: string | null
  client?: ClientInfo | null
  reason?: string | null
}

/**
 * The domain's one way to report: never throws and never waits, so a failing or slow consumer
 * cannot fail or slow the request that caused the event.
 */
export function createEventEmitter(hooks: EventHook[], onError: (error: unknown) => void) {
  return function emit(type: SecurityEventType, details: EventDetails = {}): void {
    if (hooks.length === 0) return
    const event: SecurityEvent = {
      type,
      at: Date.now(),
      userId: details.userId ?? null,
      actorId: details.actorId ?? null,
      sessionId: details.sessionId ?? null,
      ip: details.client?.ip ?? null,
      userAgent: summarizeUserAgent(details.client?.userAgent),
      reason: details.reason ?? null,
    }
    for (const hook of hooks) {
      try {
        hook(event)
      } catch (error) {
        onError(error)
      }
    }
  }
}

export type EmitEvent = ReturnType<typeof createEventEmitter>
