export * from './origin.ts'
export * from './policy.ts'
