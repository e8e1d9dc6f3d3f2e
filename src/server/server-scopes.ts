import { defineScopes } from '../core/scopes/index.ts'

/**
 * What a personal API key of the server may be allowed to do: reading the account and its
 * preferences, writing the preferences, reading its security events. Credentials, sessions, keys
 * and administration are never in reach of a key, whatever its scopes.
 */
export const SERVER_SCOPES = defineScopes({
  'profile:read': 'Read your account (GET /me, /profile, /protected-route)',
  'prefs:read': 'Read your preferences',
  'prefs:write': 'Change your preferences',
  'audit:read': 'Read your security events (GET /me/audit)',
})
