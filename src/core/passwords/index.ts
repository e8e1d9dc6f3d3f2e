export * from './argon2id.ts'
export { isBcryptHash, verifyBcrypt } from './bcrypt.ts'
export * from './hasher.ts'
export * from './policy.ts'
