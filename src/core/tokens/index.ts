export * from './opaque-token.ts'
