import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

// An import statement of fastify or one of its plugins (comments may name them).
const FRAMEWORK_IMPORT =
  /^\s*(?:import|export)\b[^;]*?from\s+['"](?:fastify|@fastify\/[^'"]+|fastify-plugin)['"]/m

test('the core imports no web framework, so another adapter needs no core change', () => {
  const files = sources('src/core')
  assert.ok(files.length > 10, 'src/core was not found')
  const offenders = files.filter((file) => FRAMEWORK_IMPORT.test(readFileSync(file, 'utf8')))
  assert.deepEqual(offenders, [])
})

test('the check does recognise a framework import', () => {
  assert.ok(FRAMEWORK_IMPORT.test("import type { FastifyRequest } from 'fastify'"))
  assert.ok(FRAMEWORK_IMPORT.test("import cors from '@fastify/cors'"))
  assert.ok(!FRAMEWORK_IMPORT.test(' * @fastify/swagger-ui 5.2.6). A hash allows'))
})
