import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig, MIN_SECRET_LENGTH } from '../../src/server/config.ts'
import { TEST_SECRET } from '../helpers/test-app.ts'

const PRODUCTION = { GATEHOUSE_ENV: 'production' }

describe('loadConfig: the production profile and its secret', () => {
  it('refuses production without GATEHOUSE_SECRET', () => {
    assert.throws(() => loadConfig(PRODUCTION), /GATEHOUSE_SECRET is required when GATEHOUSE_ENV=production/)
    assert.throws(() => loadConfig({ ...PRODUCTION, GATEHOUSE_SECRET: '' }), /GATEHOUSE_SECRET is required/)
  })

  it('refuses a secret shorter than 32 characters, without echoing it', () => {
    const short = 'x'.repeat(MIN_SECRET_LENGTH - 1)
    for (const env of [
      { ...PRODUCTION, GATEHOUSE_SECRET: short },
      { ...PRODUCTION, GATEHOUSE_SECRET: 'changeme' },
      { GATEHOUSE_SECRET: 'secret' },
    ]) {
      assert.throws(
        () => loadConfig(env),
        (error: Error) => {
          assert.match(error.message, /GATEHOUSE_SECRET must be at least 32 random characters/)
          assert.ok(!error.message.includes(env.GATEHOUSE_SECRET), 'the secret is echoed')
          return true
        },
      )
    }
  })

  it('accepts production with a strong secret, and turns the docs UI off', () => {
    const config = loadConfig({ ...PRODUCTION, GATEHOUSE_SECRET: TEST_SECRET })
    assert.equal(config.env, 'production')
    assert.equal(config.secret, TEST_SECRET)
    assert.equal(config.secretIsEphemeral, false)
    assert.equal(config.docs, false)
    assert.equal(config.demoPort, 0)
    assert.deepEqual(config.corsOrigins, [])
    const exactly32 = loadConfig({ ...PRODUCTION, GATEHOUSE_SECRET: 'k'.repeat(MIN_SECRET_LENGTH) })
    assert.equal(exactly32.secret.length, MIN_SECRET_LENGTH)
  })

  it('turns the docs UI on in production only with GATEHOUSE_DOCS=1', () => {
    const base = { ...PRODUCTION, GATEHOUSE_SECRET: TEST_SECRET }
    assert.equal(loadConfig({ ...base, GATEHOUSE_DOCS: '1' }).docs, true)
    assert.equal(loadConfig({ ...base, GATEHOUSE_DOCS: 'true' }).docs, false)
    assert.equal(loadConfig({ ...base, GATEHOUSE_DOCS: '0' }).docs, false)
  })

  it('generates a random per-process secret in development when none is given', () => {
    const first = loadConfig({})
    const second = loadConfig({})
    assert.equal(first.env, 'development')
    assert.equal(first.secretIsEphemeral, true)
    assert.ok(first.secret.length >= MIN_SECRET_LENGTH)
    assert.notEqual(first.secret, second.secret)
    assert.equal(first.docs, true)
  })

  it('refuses an unknown GATEHOUSE_ENV instead of falling back to development', () => {
    for (const value of ['prod', 'Production', 'staging']) {
      assert.throws(
        () => loadConfig({ GATEHOUSE_ENV: value }),
        /GATEHOUSE_ENV must be "development" or "production"/,
      )
    }
  })
})

describe('loadConfig: numbers', () => {
  it('reads PORT and defaults it to 8000', () => {
    assert.equal(loadConfig({}).port, 8000)
    assert.equal(loadConfig({ PORT: '8080' }).port, 8080)
    assert.equal(loadConfig({ PORT: '0' }).port, 0)
    assert.equal(loadConfig({ PORT: '65535' }).port, 65535)
  })

  it('refuses a bad PORT with a clear error naming the variable and the value', () => {
    for (const port of ['abc', '-1', '65536', '80.5', '8080x', '1e3x', 'NaN', 'Infinity']) {
      assert.throws(
        () => loadConfig({ PORT: port }),
        (error: Error) => {
          assert.match(error.message, /^PORT must be an integer between 0 and 65535/)
          assert.ok(error.message.includes(`"${port}"`), error.message)
          return true
        },
        port,
      )
    }
  })

  it('refuses a PORT that is blank or not written in decimal digits', () => {
    for (const port of [' ', '\t', '0x1F90', '1e3', '+80']) {
      assert.throws(() => loadConfig({ PORT: port }), /^Error: PORT must be an integer/, JSON.stringify(port))
    }
  })

  it('refuses a token lifetime of zero seconds', () => {
    assert.throws(
      () => loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '0' }),
      /ACCESS_TOKEN_TTL_SECONDS must be an integer/,
    )
    assert.equal(loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '1' }).accessTokenTtlSeconds, 1)
  })

  it('has the documented defaults: 24 h tokens, 64 KiB bodies, SQLite file', () => {
    const config = loadConfig({})
    assert.equal(config.accessTokenTtlSeconds, 86400)
    assert.equal(config.bodyLimitBytes, 64 * 1024)
    assert.equal(config.databaseUrl, 'sqlite:./data/gatehouse.db')
    assert.equal(config.host, '127.0.0.1')
  })
})
