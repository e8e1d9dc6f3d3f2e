export * from './double-submit.ts'
export * from './fetch-metadata.ts'
export * from './methods.ts'
export * from './signed-token.ts'
