import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { argon2idParameters } from '../../src/core/passwords/index.ts'
import { hashToken } from '../../src/core/tokens/index.ts'
import { dialects } from '../helpers/databases.ts'
import { bearer, login, register, requestToken, startTestApp, type TestApp } from '../helpers/test-app.ts'

const EMAIL = 'at-rest@example.com'
const PASSWORD = 'At-Rest-Secret-Passw0rd!'
const WRONG_PASSWORD = 'At-Rest-Wrong-Passw0rd?'

/** Every row of every table, as text (bigint-safe). */
async function dumpDatabase(t: TestApp): Promise<{ tables: string[]; text: string }> {
  const listing =
    t.store.dialect === 'sqlite'
      ? sql<{ name: string }>`select name from sqlite_master where type = 'table'`
      : sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE'`
  const tables = (await listing.execute(t.store.db)).rows.map((row) => row.name).sort()
  let text = ''
  for (const table of tables) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(t.store.db)
    text += `${table}\n${JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? String(value) : value))}\n`
  }
  return { tables, text }
}

/** The SQLite database file and its -wal / -shm companions, raw. */
function sqliteFiles(url: string): Map<string, Buffer> {
  const path = url.slice('sqlite:'.length)
  const files = new Map<string, Buffer>()
  for (const name of readdirSync(dirname(path))) {
    if (name.startsWith(basename(path))) files.set(name, readFileSync(join(dirname(path), name)))
  }
  return files
}

for (const { dialect, skip, create } of dialects()) {
  describe(`secrets at rest (${dialect})`, { skip }, () => {
    let t: TestApp
    let tokens: string[]
    before(async () => {
      t = await startTestApp({ create })
      assert.equal((await register(t.app, EMAIL, PASSWORD)).statusCode, 201)
      tokens = []
      for (let i = 0; i < 3; i++) tokens.push(await login(t.app, EMAIL, PASSWORD))
      assert.equal((await requestToken(t.app, EMAIL, WRONG_PASSWORD)).statusCode, 401)
      for (const token of tokens) {
        assert.equal((await t.app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
        assert.equal(
          (await t.app.inject({ url: '/protected-route', headers: bearer(token) })).statusCode,
          200,
        )
      }
      const logout = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: bearer(tokens[0] as string),
      })
      assert.equal(logout.statusCode, 204)
    })
    after(() => t?.close())

    /** Each secret, and for tokens also the random part without the public prefix. */
    const secrets = () => [
      PASSWORD,
      WRONG_PASSWORD,
      ...tokens,
      ...tokens.map((token) => token.slice('gth_'.length)),
    ]

    it('stores the password only as an argon2id PHC string', async () => {
      const row = await t.store.db
        .selectFrom('users')
        .select('hashed_password')
        .where('email_normalized', '=', EMAIL)
        .executeTakeFirstOrThrow()
      assert.match(
        row.hashed_password,
        /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/,
      )
      const parameters = argon2idParameters(row.hashed_password)
      assert.ok(parameters, 'not argon2id')
      // OWASP Password Storage Cheat Sheet minimum for argon2id.
      assert.ok(parameters.memoryCost >= 19456, `m=${parameters.memoryCost}`)
      assert.ok(parameters.timeCost >= 2, `t=${parameters.timeCost}`)
    })

    it('stores tokens only as their SHA-256', async () => {
      const rows = await t.store.db.selectFrom('access_tokens').select('token_hash').execute()
      const stored = rows.map((row) => row.token_hash).sort()
      // The revoked token is gone; the two others are there by hash only.
      assert.deepEqual(stored, tokens.slice(1).map(hashToken).sort())
      for (const hash of stored) assert.match(hash, /^[0-9a-f]{64}$/)
    })

    it('keeps no password and no token in any column of any table', async () => {
      const { tables, text } = await dumpDatabase(t)
      assert.ok(tables.includes('users') && tables.includes('access_tokens'), tables.join(','))
      // Controls: the dump does contain what is stored, so the absence checks below mean something.
      assert.ok(text.includes(EMAIL), 'the dump misses the email')
      assert.ok(text.includes(hashToken(tokens[1] as string)), 'the dump misses the token hash')
      for (const secret of secrets()) {
        assert.ok(!text.includes(secret), `a secret is stored: ${secret.slice(0, 8)}…`)
      }
    })

    // SQLite only (not registered for PostgreSQL, whose data files belong to the server; its
    // columns are checked above).
    const rawFilesTest = dialect === 'sqlite' ? it : (_name: string, _fn: () => void) => undefined
    rawFilesTest('keeps no password and no token in the raw SQLite files', () => {
      const files = sqliteFiles(t.store.url)
      assert.ok(files.has(basename(t.store.url.slice('sqlite:'.length))), 'database file not found')
      const all = Buffer.concat([...files.values()])
      assert.ok(all.includes(Buffer.from(EMAIL)), 'the raw files miss the email')
      assert.ok(all.includes(Buffer.from(hashToken(tokens[1] as string))), 'the raw files miss a token hash')
      for (const [name, bytes] of files) {
        for (const secret of secrets()) {
          for (const encoding of ['utf8', 'utf16le'] as const) {
            assert.ok(
              !bytes.includes(Buffer.from(secret, encoding)),
              `${name} holds a secret (${encoding}): ${secret.slice(0, 8)}…`,
            )
          }
        }
      }
    })
  })
}
