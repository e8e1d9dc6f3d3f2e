export {
  type AttemptLimiter,
  type AttemptLimiterOptions,
  createAttemptLimiter,
  REGISTER_LIMIT_DEFAULTS,
} from './accounts/attempt-limiter.ts'
export { BoundedMemoryStore } from './accounts/bounded-memory-store.ts'
export * from './accounts/index.ts'
export {
  createLoginThrottle,
  type LoginThrottle,
  type LoginThrottleOptions,
} from './accounts/login-throttle.ts'
export type { CorsPolicyOptions } from './core/cors/index.ts'
export * from './core/errors.ts'
export * from './core/passwords/index.ts'
export * from './core/scopes/index.ts'
export * from './core/tokens/index.ts'
export { bearerLogin } from './fastify/bearer-login.ts'
export { CSRF_COOKIE_OPTIONS, sessionCookieOptions } from './fastify/browser/cookies.ts'
export { corsPlugin } from './fastify/browser/cors.ts'
export { csrfProtectionPlugin } from './fastify/browser/csrf-protection.ts'
export { type SecurityHeadersOptions, securityHeadersPlugin } from './fastify/browser/security-headers.ts'
export { issueCsrfToken, signIn } from './fastify/browser/session.ts'
export { clientOf } from './fastify/client-info.ts'
export { type CurrentUserOptions, currentUser, requireScopes } from './fastify/current-user.ts'
export { docsPlugin } from './fastify/docs.ts'
export { gatehouseErrorHandler, sendError } from './fastify/error-handler.ts'
export { type HostAllowlistOptions, hostAllowlistPlugin } from './fastify/host-allowlist.ts'
export { DEVELOPMENT_COOKIES, gatehousePlugin, PRODUCTION_COOKIES } from './fastify/plugin.ts'
export { requireSuperuser } from './fastify/require-superuser.ts'
export { adminRoutes } from './fastify/routes/admin-routes.ts'
export { apiKeyRoutes } from './fastify/routes/api-key-routes.ts'
export * from './fastify/security/index.ts'
export {
  type GatehouseServerOptions,
  gatehouseServerOptions,
  SERVER_TIMEOUT_DEFAULTS,
} from './fastify/server-options.ts'
export { type Gatehouse, type OpenGatehouseOptions, openGatehouse } from './open-gatehouse.ts'
export { buildApp } from './server/build-app.ts'
export { type GatehouseConfig, loadConfig } from './server/config.ts'
export * from './store/index.ts'
