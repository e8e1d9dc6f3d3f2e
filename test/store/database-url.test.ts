import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { parseDatabaseUrl } from '../../src/store/database-url.ts'

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
