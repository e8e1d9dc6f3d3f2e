/**
 * `npm run example -- <name>`: starts examples/<name>.ts on PORT (default 8000).
 * Each example exports `build(): Promise<FastifyInstance>`.
 */
import { readdirSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

const available = readdirSync(new URL('.', import.meta.url))
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => file.slice(0, -3))

const name = process.argv[2]
if (!name || !available.includes(name)) {
  console.error(`usage: npm run example -- <name>\navailable: ${available.join(', ')}`)
  process.exit(2)
}

const example = (await import(`./${name}.ts`)) as { build(): Promise<FastifyInstance> }
const app = await example.build()
const port = Number(process.env.PORT ?? 8000)
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port })
console.log(`example "${name}" on http://localhost:${port}`)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
