export * from './build.ts'
export * from './csp.ts'
export * from './profiles.ts'
