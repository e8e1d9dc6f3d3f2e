export { type ApiKeyOptions, apiKeyCookie, apiKeyHeader, apiKeyQuery } from './api-key.ts'
export {
  type BasicCredentials,
  type HttpBasicOptions,
  httpBasic,
  parseBasicAuthorization,
} from './http-basic.ts'
export { type HttpBearerOptions, httpBearer } from './http-bearer.ts'
export { type OAuth2PasswordBearerOptions, oauth2PasswordBearer } from './oauth2-password-bearer.ts'
export { declaredSecuritySchemes, type SecuritySchemes, securityRegistryPlugin } from './openapi-registry.ts'
export {
  type DeclaredScheme,
  defineSecurityDependency,
  isSecurityDependency,
  type SecurityDependency,
} from './types.ts'
export { type CredentialVerifier, VerifyCallbackError } from './verify.ts'
