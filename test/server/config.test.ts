import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig, MIN_SECRET_LENGTH } from '../../src/server/config.ts'
import { TEST_SECRET } from '../helpers/test-app.ts'

const PRODUCTION = { GATEHOUSE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:2525' }
/** What production needs besides the secret: the names it is served under. */
const PRODUCTION_HOSTS = { ALLOWED_HOSTS: 'api.example.com' }

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
    const config = loadConfig({ ...PRODUCTION, ...PRODUCTION_HOSTS, GATEHOUSE_SECRET: TEST_SECRET })
    assert.equal(config.env, 'production')
    assert.equal(config.secret, TEST_SECRET)
    assert.equal(config.secretIsEphemeral, false)
    assert.equal(config.docs, false)
    assert.equal(config.demoPort, 0)
    assert.deepEqual(config.corsOrigins, [])
    const exactly32 = loadConfig({
      ...PRODUCTION,
      ...PRODUCTION_HOSTS,
      GATEHOUSE_SECRET: 'k'.repeat(MIN_SECRET_LENGTH),
    })
    assert.equal(exactly32.secret.length, MIN_SECRET_LENGTH)
  })

  it('refuses production without SMTP_URL while account mail is on, and starts with ACCOUNT_EMAILS=0', () => {
    const { SMTP_URL: _, ...withoutSmtp } = {
      ...PRODUCTION,
      ...PRODUCTION_HOSTS,
      GATEHOUSE_SECRET: TEST_SECRET,
    }
    assert.throws(() => loadConfig(withoutSmtp), /SMTP_URL is required when GATEHOUSE_ENV=production/)
    const off = loadConfig({ ...withoutSmtp, ACCOUNT_EMAILS: '0' })
    assert.equal(off.accountEmails, false)
    assert.equal(off.smtpUrl, null)
  })

  it('refuses an SMTP_URL that is not smtp:// or smtps://, without echoing it', () => {
    for (const value of ['http://user:hunter2@mail.example.com', 'smtp:', 'mail.example.com:25']) {
      assert.throws(
        () => loadConfig({ SMTP_URL: value }),
        (error: Error) =>
          /SMTP_URL must be an smtp/.test(error.message) && !error.message.includes('hunter2'),
      )
    }
    assert.equal(
      loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.com:465' }).smtpUrl,
      'smtps://u:p@mail.example.com:465',
    )
  })

  it('defaults APP_URL to the demo origin and refuses one with credentials or a fragment', () => {
    assert.equal(loadConfig({}).appUrl, 'http://localhost:9000')
    assert.equal(loadConfig({ APP_URL: 'https://app.example.com/' }).appUrl, 'https://app.example.com')
    for (const value of [
      'https://u:p@app.example.com',
      'https://app.example.com/#x',
      'ftp://app.example.com',
    ]) {
      assert.throws(() => loadConfig({ APP_URL: value }), /APP_URL must be/)
    }
  })

  it('turns the docs UI on in production only with GATEHOUSE_DOCS=1', () => {
    const base = { ...PRODUCTION, ...PRODUCTION_HOSTS, GATEHOUSE_SECRET: TEST_SECRET }
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

describe('loadConfig: registration limit and the password grant', () => {
  it('defaults to 20 registrations per IP per hour and reads both variables', () => {
    const config = loadConfig({})
    assert.equal(config.registerMaxPerIp, 20)
    assert.equal(config.registerWindowSeconds, 3600)
    const custom = loadConfig({ REGISTER_MAX_PER_IP: '0', REGISTER_WINDOW_SECONDS: '60' })
    assert.equal(custom.registerMaxPerIp, 0, '0 turns the limit off')
    assert.equal(custom.registerWindowSeconds, 60)
  })

  it('refuses a bad REGISTER_MAX_PER_IP or a zero REGISTER_WINDOW_SECONDS', () => {
    assert.throws(
      () => loadConfig({ REGISTER_MAX_PER_IP: '-1' }),
      /^Error: REGISTER_MAX_PER_IP must be an integer/,
    )
    assert.throws(() => loadConfig({ REGISTER_MAX_PER_IP: 'many' }), /REGISTER_MAX_PER_IP must be an integer/)
    assert.throws(
      () => loadConfig({ REGISTER_WINDOW_SECONDS: '0' }),
      /REGISTER_WINDOW_SECONDS must be an integer/,
    )
  })

  it('turns the OAuth2 password grant on by default, off with PASSWORD_GRANT=0', () => {
    assert.equal(loadConfig({}).passwordGrant, true)
    assert.equal(loadConfig({ PASSWORD_GRANT: '' }).passwordGrant, true)
    assert.equal(loadConfig({ PASSWORD_GRANT: '1' }).passwordGrant, true)
    assert.equal(loadConfig({ PASSWORD_GRANT: '0' }).passwordGrant, false)
  })

  it('refuses a PASSWORD_GRANT other than 0 or 1 instead of guessing', () => {
    for (const value of ['false', 'off', 'no', 'true', '2']) {
      assert.throws(
        () => loadConfig({ PASSWORD_GRANT: value }),
        /^Error: PASSWORD_GRANT must be 0 or 1/,
        value,
      )
    }
  })
})

describe('loadConfig: HTTP server timeouts', () => {
  it('defaults to request 30 s, headers 20 s, keep-alive 72 s', () => {
    const config = loadConfig({})
    assert.equal(config.requestTimeoutSeconds, 30)
    assert.equal(config.headersTimeoutSeconds, 20)
    assert.equal(config.keepAliveTimeoutSeconds, 72)
  })

  it('reads the three variables; REQUEST_TIMEOUT_SECONDS=0 turns the whole-request limit off', () => {
    const config = loadConfig({
      REQUEST_TIMEOUT_SECONDS: '120',
      HEADERS_TIMEOUT_SECONDS: '5',
      KEEP_ALIVE_TIMEOUT_SECONDS: '65',
    })
    assert.equal(config.requestTimeoutSeconds, 120)
    assert.equal(config.headersTimeoutSeconds, 5)
    assert.equal(config.keepAliveTimeoutSeconds, 65)
    assert.equal(loadConfig({ REQUEST_TIMEOUT_SECONDS: '0' }).requestTimeoutSeconds, 0)
  })

  it('refuses headers or keep-alive timeouts of 0 (unlimited) and values over an hour', () => {
    for (const [name, value] of [
      ['HEADERS_TIMEOUT_SECONDS', '0'],
      ['KEEP_ALIVE_TIMEOUT_SECONDS', '0'],
      ['REQUEST_TIMEOUT_SECONDS', '3601'],
      ['HEADERS_TIMEOUT_SECONDS', 'ten'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        new RegExp(`^Error: ${name} must be an integer`),
        name,
      )
    }
  })

  it('refuses a headers timeout longer than the request timeout (Node would never apply it)', () => {
    assert.throws(
      () => loadConfig({ REQUEST_TIMEOUT_SECONDS: '10', HEADERS_TIMEOUT_SECONDS: '20' }),
      /HEADERS_TIMEOUT_SECONDS \(20\) must not exceed REQUEST_TIMEOUT_SECONDS \(10\)/,
    )
    assert.equal(
      loadConfig({ REQUEST_TIMEOUT_SECONDS: '0', HEADERS_TIMEOUT_SECONDS: '60' }).headersTimeoutSeconds,
      60,
    )
  })
})

describe('loadConfig: ALLOWED_HOSTS and PUBLIC_URL', () => {
  const base = { ...PRODUCTION, GATEHOUSE_SECRET: TEST_SECRET }

  it('allows the loopback names on any port in development', () => {
    const config = loadConfig({})
    assert.deepEqual(config.allowedHosts, ['localhost', '127.0.0.1', '[::1]'])
    assert.equal(config.publicUrl, null)
  })

  it('requires ALLOWED_HOSTS or PUBLIC_URL in production', () => {
    assert.throws(
      () => loadConfig(base),
      /ALLOWED_HOSTS \(or PUBLIC_URL\) is required when GATEHOUSE_ENV=production/,
    )
  })

  it('derives the allowlist from PUBLIC_URL (its host, with a non-default port)', () => {
    assert.deepEqual(loadConfig({ ...base, PUBLIC_URL: 'https://API.example.com/' }).allowedHosts, [
      'api.example.com',
    ])
    const withPort = loadConfig({ ...base, PUBLIC_URL: 'https://api.example.com:8443' })
    assert.deepEqual(withPort.allowedHosts, ['api.example.com:8443'])
    assert.equal(withPort.publicUrl, 'https://api.example.com:8443')
  })

  it('reads ALLOWED_HOSTS as a comma-separated list of names, optionally with a port', () => {
    const config = loadConfig({
      ...base,
      ALLOWED_HOSTS: ' api.example.com , 10.0.0.5:8000,[2001:db8::1],Example.org. ',
    })
    assert.deepEqual(config.allowedHosts, [
      'api.example.com',
      '10.0.0.5:8000',
      '[2001:db8::1]',
      'example.org',
    ])
  })

  it('refuses *, URLs, paths and malformed names in ALLOWED_HOSTS', () => {
    for (const value of [
      '*',
      '.example.com',
      'https://api.example.com',
      'api.example.com/x',
      'a b',
      'host:99999',
      ',',
    ]) {
      assert.throws(() => loadConfig({ ...base, ALLOWED_HOSTS: value }), /^Error: ALLOWED_HOSTS/, value)
    }
  })

  it('refuses a PUBLIC_URL that is not an http(s) URL, or whose host ALLOWED_HOSTS would refuse', () => {
    for (const value of ['api.example.com', 'ftp://api.example.com', 'https://user:pw@api.example.com']) {
      assert.throws(() => loadConfig({ ...base, PUBLIC_URL: value }), /^Error: PUBLIC_URL must be/, value)
    }
    assert.throws(
      () =>
        loadConfig({ ...base, PUBLIC_URL: 'https://api.example.com', ALLOWED_HOSTS: 'other.example.com' }),
      /ALLOWED_HOSTS does not allow the host of PUBLIC_URL/,
    )
    const both = loadConfig({
      ...base,
      PUBLIC_URL: 'https://api.example.com',
      ALLOWED_HOSTS: 'api.example.com,10.0.0.5',
    })
    assert.deepEqual(both.allowedHosts, ['api.example.com', '10.0.0.5'])
  })
})
