/**
 * Runs an example's `build()` the way `npm run example` does, but on a fresh SQLite file in a temp
 * folder (through DATABASE_URL) and with the given environment, restored as soon as build() returns.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

/** One parsed Set-Cookie of an inject() response. */
export type SetCookie = LightMyRequestResponse['cookies'][number]

export interface ExampleApp {
  app: FastifyInstance
  /** Closes the app (and its database), then deletes the temp folder. */
  close(): Promise<void>
}

/** Sets the variables (undefined deletes one), runs `fn`, then puts every variable back. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
  apply(vars)
  try {
    return await fn()
  } finally {
    apply(saved)
  }
}

export async function startExample(
  build: () => Promise<FastifyInstance>,
  env: Record<string, string | undefined> = {},
): Promise<ExampleApp> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-example-'))
  const remove = () => rmSync(dir, { recursive: true, force: true })
  try {
    const app = await withEnv({ DATABASE_URL: `sqlite:${join(dir, 'example.db')}`, ...env }, build)
    await app.ready()
    return {
      app,
      async close() {
        try {
          await app.close()
        } finally {
          remove()
        }
      },
    }
  } catch (error) {
    remove()
    throw error
  }
}

/** The cookie the response sets under this name; fails the test when there is none. */
export function setCookie(response: LightMyRequestResponse, name: string): SetCookie {
  const cookie = response.cookies.find((candidate) => candidate.name === name)
  if (cookie === undefined)
    throw new Error(`no Set-Cookie for ${name}: ${String(response.headers['set-cookie'])}`)
  return cookie
}

/** Names of the CORS response headers (`access-control-*`) present on a response. */
export function corsHeaders(response: LightMyRequestResponse): string[] {
  return Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))
}

/** A form body for inject(), like the book's HTML forms and OAuth2PasswordRequestForm send. */
export function form(fields: Record<string, string>) {
  return {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  }
}
