/** The framework-free core: no Fastify import anywhere below this folder. */
export * from './cors/index.ts'
export * from './csrf/index.ts'
export * from './email/index.ts'
export * from './errors.ts'
export * from './headers/index.ts'
export * from './passwords/index.ts'
export * from './scopes/index.ts'
export * from './tokens/index.ts'
