import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { describeDatabase, parseDatabaseUrl } from '../../src/store/database-url.ts'
import { openStore } from '../../src/store/open-store.ts'

const PASSWORD = 'S3cr3t-pa55w0rd'

/** Runs `fn` with the working directory set to a fresh temporary folder. */
function inTemporaryDirectory(fn: (cwd: string) => void): void {
  const previous = process.cwd()
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-url-'))
  try {
    process.chdir(dir)
    fn(process.cwd())
  } finally {
    process.chdir(previous)
    rmSync(dir, { recursive: true, force: true })
  }
}

function thrownMessage(url: string): string {
  try {
    parseDatabaseUrl(url)
  } catch (error) {
    assert.ok(error instanceof Error)
    return error.message
  }
  assert.fail(`parseDatabaseUrl(${JSON.stringify(url)}) did not throw`)
}

describe('parseDatabaseUrl', () => {
  it('resolves a relative SQLite path from the current working directory', () => {
    inTemporaryDirectory((cwd) => {
      assert.deepEqual(parseDatabaseUrl('sqlite:./data/gatehouse.db'), {
        dialect: 'sqlite',
        target: join(cwd, 'data', 'gatehouse.db'),
      })
      assert.deepEqual(parseDatabaseUrl('sqlite:app.db'), { dialect: 'sqlite', target: join(cwd, 'app.db') })
      assert.deepEqual(parseDatabaseUrl('sqlite:../shared/app.db'), {
        dialect: 'sqlite',
        target: resolve(cwd, '..', 'shared', 'app.db'),
      })
    })
  })

  it('the same relative SQLite URL points elsewhere when the working directory changes', () => {
    let first = ''
    let second = ''
    inTemporaryDirectory(() => {
      first = parseDatabaseUrl('sqlite:./gatehouse.db').target
    })
    inTemporaryDirectory(() => {
      second = parseDatabaseUrl('sqlite:./gatehouse.db').target
    })
    assert.notEqual(first, second)
  })

  it('keeps an absolute SQLite path, written with one or three slashes', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:/var/lib/gatehouse/app.db'), {
      dialect: 'sqlite',
      target: '/var/lib/gatehouse/app.db',
    })
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/gatehouse/app.db'), {
      dialect: 'sqlite',
      target: '/var/lib/gatehouse/app.db',
    })
  })

  it('sqlite::memory: is an in-memory database, not a file in the working directory', () => {
    inTemporaryDirectory(() => {
      assert.deepEqual(parseDatabaseUrl('sqlite::memory:'), { dialect: 'sqlite', target: ':memory:' })
    })
  })

  it('accepts postgres:// and postgresql:// URLs and passes them on unchanged', () => {
    for (const url of [
      `postgres://gatehouse:${PASSWORD}@db.internal:5432/gatehouse`,
      `postgresql://gatehouse:${PASSWORD}@db.internal/gatehouse?sslmode=require`,
      'postgres://localhost/gatehouse',
    ]) {
      assert.deepEqual(parseDatabaseUrl(url), { dialect: 'postgres', target: url })
    }
  })

  it('refuses other schemes and says which ones are accepted', () => {
    for (const url of [
      'mysql://root@localhost/gatehouse',
      'redis://localhost:6379',
      'http://example.com/gatehouse.db',
      'file:./gatehouse.db',
      'sqlite3:./gatehouse.db',
      'postgres:gatehouse',
      './gatehouse.db',
      '',
    ]) {
      const message = thrownMessage(url)
      assert.match(message, /sqlite:/, url)
      assert.match(message, /postgres:\/\//, url)
    }
  })

  it('refuses a SQLite URL without a path', () => {
    assert.match(thrownMessage('sqlite:'), /needs a path/)
  })

  it('refuses sqlite:// (no path) instead of opening the filesystem root', () => {
    assert.match(thrownMessage('sqlite://'), /needs a path/)
  })

  it('an error for a URL with a scheme never repeats the password in it', () => {
    for (const url of [
      `mysql://admin:${PASSWORD}@db.internal/gatehouse`,
      `Postgres://admin:${PASSWORD}@db.internal/gatehouse`,
      `postgres:/admin:${PASSWORD}@db.internal/gatehouse`,
      `postgres//admin:${PASSWORD}@db.internal/gatehouse`,
      `jdbc:postgresql://db.internal/gatehouse?user=admin&password=${PASSWORD}`,
      `:${PASSWORD}@db.internal/gatehouse`,
    ]) {
      assert.ok(!thrownMessage(url).includes(PASSWORD), url)
    }
  })

  it('an error for a value without any colon never repeats the password in it', () => {
    for (const url of [
      `host=db.internal user=admin password=${PASSWORD} dbname=gatehouse`,
      `admin@db.internal/gatehouse?password=${PASSWORD}`,
    ]) {
      assert.ok(!thrownMessage(url).includes(PASSWORD), url)
    }
  })
})

describe('describeDatabase', () => {
  it('names a SQLite database by its absolute path', () => {
    inTemporaryDirectory((cwd) => {
      assert.equal(
        describeDatabase('sqlite:./data/gatehouse.db'),
        `sqlite ${join(cwd, 'data', 'gatehouse.db')}`,
      )
    })
    assert.equal(describeDatabase('sqlite:///var/lib/gatehouse/app.db'), 'sqlite /var/lib/gatehouse/app.db')
    assert.equal(describeDatabase('sqlite::memory:'), 'sqlite :memory:')
  })

  it('names a PostgreSQL database by host, port and name, without user, password or query', () => {
    const cases: [url: string, expected: string][] = [
      [`postgres://gatehouse:${PASSWORD}@127.0.0.1:5432/gatehouse`, 'postgres 127.0.0.1:5432/gatehouse'],
      [
        `postgresql://admin:${PASSWORD}@db.internal/app?sslmode=require&password=${PASSWORD}`,
        'postgres db.internal:5432/app',
      ],
      ['postgres://localhost:6543', 'postgres localhost:6543'],
      [`postgres://u:${PASSWORD}@[::1]:5433/my%20db`, 'postgres [::1]:5433/my db'],
      [
        `postgres:///app?host=/var/run/postgresql&password=${PASSWORD}`,
        'postgres /var/run/postgresql:5432/app',
      ],
    ]
    for (const [url, expected] of cases) {
      const described = describeDatabase(url)
      assert.equal(described, expected, url)
      assert.ok(!described.includes(PASSWORD), url)
      assert.ok(!/gatehouse:|admin|\bu\b|sslmode/.test(described), `${url} → ${described}`)
    }
  })

  it('an unparsable PostgreSQL URL is described without repeating any of it', () => {
    const described = describeDatabase(`postgres://admin:${PASSWORD}@127.0.0.1:99999/app`)
    assert.equal(described, 'postgres (unparsable URL)')
  })
})

describe('openStore and the SQLite folder', () => {
  it('creates ./data/ of the working directory, the default location, when it is missing', async () => {
    const previous = process.cwd()
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-url-'))
    process.chdir(dir)
    try {
      const store = openStore('sqlite:./data/gatehouse.db')
      await store.close()
      assert.ok(existsSync(join(dir, 'data', 'gatehouse.db')))
    } finally {
      process.chdir(previous)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses any other missing folder with a clear error, and creates nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-url-'))
    const previous = process.cwd()
    process.chdir(dir)
    try {
      for (const [url, missing] of [
        [`sqlite:${join(dir, 'nonexistent', 'dir', 'x.db')}`, join(dir, 'nonexistent', 'dir')],
        ['sqlite:./elsewhere/x.db', join(dir, 'elsewhere')],
        ['sqlite:./data/nested/x.db', join(dir, 'data', 'nested')],
        ['sqlite:/nonexistent/dir/x.db', '/nonexistent/dir'],
      ] as const) {
        assert.throws(
          () => openStore(url),
          (error: Error) =>
            error.message.includes(`${missing} does not exist`) && /create it first/.test(error.message),
          url,
        )
      }
      assert.ok(!existsSync(join(dir, 'nonexistent')))
      assert.ok(!existsSync(join(dir, 'elsewhere')))
      assert.ok(!existsSync(join(dir, 'data')))
      assert.ok(!existsSync('/nonexistent'))
    } finally {
      process.chdir(previous)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('opens a database in any folder that exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-url-'))
    try {
      mkdirSync(join(dir, 'nested'))
      const store = openStore(`sqlite:${join(dir, 'nested', 'x.db')}`)
      await store.close()
      assert.ok(existsSync(join(dir, 'nested', 'x.db')))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
