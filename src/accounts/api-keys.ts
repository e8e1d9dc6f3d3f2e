import { GatehouseError } from '../core/errors.ts'
import type { ApiKeySummary, IssuedApiKey } from './api-key-store.ts'
import type { DomainContext } from './domain-context.ts'
import type { ClientInfo } from './events.ts'
import type { AccessTokenContext } from './session.ts'
import { assertNotApiKey } from './step-up.ts'

export type { ApiKeySummary, IssuedApiKey } from './api-key-store.ts'

export interface CreateApiKeyInput {
  session: AccessTokenContext
  name: string
  scopes: readonly string[]
  /** Required: a key that never expires outlives whoever remembers it exists. */
  expiresInDays: number
  /** Needed once the session is older than the fresh-session window: a key is a credential. */
  currentPassword?: string
  client: ClientInfo
}

const NAME_MAX_LENGTH = 100
// Controls, format characters (zero-width, bidirectional marks and overrides) and line or
// paragraph separators: a name is shown in lists, logs and terminals, and must show as it is.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u
/** No lone surrogate: UTF-8 cannot carry one, so it would come back as U+FFFD. */
const isWellFormed = (value: string) => Buffer.from(value, 'utf8').toString('utf8') === value

/** Enough for every script of a person; a bound on what one stolen session can mint. */
export const MAX_API_KEYS_PER_USER = 100
const DAY_MS = 86_400_000

type RequireStepUp = (
  session: AccessTokenContext,
  currentPassword: string | undefined,
  client: ClientInfo,
) => Promise<void>

/**
 * Personal API keys: long-lived, scoped credentials for scripts, shown once and stored as SHA-256
 * (OWASP REST Security Cheat Sheet, "API Keys"). Only a person manages them: a key cannot create,
 * list or revoke keys (ASVS 5.0 V8.2.1, least privilege).
 */
export function createApiKeys(context: DomainContext, requireStepUp: RequireStepUp) {
  const { sessions, emit } = context

  function checkInput(input: CreateApiKeyInput): { name: string; scopes: string[] } {
    const name = input.name.trim()
    // A lone surrogate is no character: it would be stored as U+FFFD, another name than sent.
    if (
      name.length === 0 ||
      [...name].length > NAME_MAX_LENGTH ||
      UNPRINTABLE.test(name) ||
      !isWellFormed(name)
    ) {
      throw new GatehouseError('VALIDATION_FAILED', {
        detail: `A key needs a name of 1 to ${NAME_MAX_LENGTH} printable characters`,
        field: 'name',
      })
    }
    const scopes = [...new Set(input.scopes)]
    if (scopes.length === 0) {
      throw new GatehouseError('VALIDATION_FAILED', {
        detail: 'A key needs at least one scope',
        field: 'scopes',
      })
    }
    const unknown = context.scopes.unknown(scopes)
    if (unknown.length > 0) {
      // The names come from the application's own table, never from the request.
      const known = Object.keys(context.scopes.descriptions).join(', ') || 'none'
      throw new GatehouseError('UNKNOWN_SCOPE', {
        detail: `Unknown scope; this server grants: ${known}`,
        field: 'scopes',
      })
    }
    const days = input.expiresInDays
    if (!Number.isInteger(days) || days < 1 || days > context.apiKeyMaxDays) {
      throw new GatehouseError('VALIDATION_FAILED', {
        detail: `A key expires in 1 to ${context.apiKeyMaxDays} days`,
        field: 'expiresInDays',
      })
    }
    return { name, scopes }
  }

  return {
    async createApiKey(input: CreateApiKeyInput): Promise<IssuedApiKey> {
      const { session, client } = input
      assertNotApiKey(session)
      const { name, scopes } = checkInput(input)
      await requireStepUp(session, input.currentPassword, client)
      const issued = await sessions.issueApiKey(
        {
          userId: session.user.id,
          sessionTokenId: session.tokenId,
          name,
          scopes,
          expiresAt: Date.now() + input.expiresInDays * DAY_MS,
        },
        MAX_API_KEYS_PER_USER,
      )
      if (issued === 'limit') throw new GatehouseError('API_KEY_LIMIT')
      // The session was ended (or the account deactivated) while this request ran.
      if (issued === 'session_ended') throw new GatehouseError('INVALID_TOKEN')
      emit('api_key.created', {
        userId: session.user.id,
        sessionId: session.sessionId,
        client,
        reason: issued.id,
      })
      return issued
    },

    async listApiKeys(session: AccessTokenContext): Promise<ApiKeySummary[]> {
      assertNotApiKey(session)
      return sessions.listApiKeys(session.user.id)
    },

    /** Ends one of the caller's keys; NOT_FOUND for any other id (no hint it exists). */
    async revokeApiKey(session: AccessTokenContext, keyId: string, client: ClientInfo): Promise<void> {
      assertNotApiKey(session)
      if (!(await sessions.revokeApiKey(session.user.id, keyId))) throw new GatehouseError('NOT_FOUND')
      emit('api_key.revoked', {
        userId: session.user.id,
        sessionId: session.sessionId,
        client,
        reason: keyId,
      })
    },

    validateApiKey: (key: string): Promise<AccessTokenContext | null> => sessions.validateApiKey(key),
  }
}
