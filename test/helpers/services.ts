/**
 * Which real services a suite may use. A suite that needs one that is absent is skipped with the
 * reason; when CI names it in GATEHOUSE_REQUIRE (comma-separated: postgres,redis,browser) a
 * missing service fails the run instead, so CI can never go green by skipping.
 */
import { existsSync } from 'node:fs'

export type Service = 'postgres' | 'redis' | 'browser'

const required = new Set((process.env.GATEHOUSE_REQUIRE ?? '').split(',').filter(Boolean))

function availability(service: Service): { ok: true; value: string } | { ok: false; reason: string } {
  if (service === 'postgres') {
    const url = process.env.TEST_DATABASE_URL
    return url ? { ok: true, value: url } : { ok: false, reason: 'TEST_DATABASE_URL is not set' }
  }
  if (service === 'redis') {
    const url = process.env.TEST_REDIS_URL
    return url ? { ok: true, value: url } : { ok: false, reason: 'TEST_REDIS_URL is not set' }
  }
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  return existsSync(path) ? { ok: true, value: path } : { ok: false, reason: `no browser at ${path}` }
}

/**
 * Returns the service's URL or path, or a skip message (string starting with "skipped:") to pass
 * as `{ skip }` to node:test. Throws when CI requires the service.
 */
export function service(name: Service): { value: string; skip: false } | { value: ''; skip: string } {
  const found = availability(name)
  if (found.ok) return { value: found.value, skip: false }
  if (required.has(name)) {
    throw new Error(`${name} is required by GATEHOUSE_REQUIRE but unavailable: ${found.reason}`)
  }
  return { value: '', skip: `skipped: ${name} unavailable (${found.reason})` }
}
