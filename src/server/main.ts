import type { FastifyInstance } from 'fastify'
import { describeDatabase } from '../store/database-url.ts'
import { buildApp } from './build-app.ts'
import type { GatehouseConfig } from './config.ts'
import { buildDemoApp } from './demo-server.ts'

/**
 * Builds the API (and the demo front end on its own port), then listens; closes both gracefully
 * on SIGINT/SIGTERM (in-flight requests finish).
 */
export async function serve(config: GatehouseConfig): Promise<FastifyInstance> {
  const app = await buildApp(config)
  if (config.secretIsEphemeral) {
    app.log.warn('GATEHOUSE_SECRET is not set: using a per-process secret (CSRF tokens end with the process)')
  }
  const demo =
    config.demoPort > 0 ? await buildDemoApp({ apiBaseUrl: `http://localhost:${config.port}` }) : null
  // Hooks must be added before listen(): Fastify refuses them on a started instance.
  if (demo) app.addHook('onClose', () => demo.close())

  await app.listen({ host: config.host, port: config.port })
  const docs = config.docs ? ` docs at http://${displayHost(config.host)}:${config.port}/docs` : ''
  const database = describeDatabase(config.databaseUrl)
  app.log.info(
    { database },
    `Gatehouse API on http://${displayHost(config.host)}:${config.port}${docs}, database ${database}`,
  )
  if (demo) {
    await demo.listen({ host: config.host, port: config.demoPort })
    app.log.info(`Demo app on http://${displayHost(config.host)}:${config.demoPort}`)
  }

  const shutdown = (signal: string) => {
    app.log.info({ signal }, 'shutting down')
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
  return app
}

function displayHost(host: string): string {
  return host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host
}
