// The production profile of the OpenAPI fuzz (openapi-fuzz.ts), in a process of its own.
process.env.FUZZ_PROFILE = 'production'
await import('./openapi-fuzz.ts')
