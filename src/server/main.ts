import type { FastifyInstance } from 'fastify'
import { describeDatabase } from '../store/database-url.ts'
import { buildApp } from './build-app.ts'
import type { GatehouseConfig } from './config.ts'
import { buildDemoApp } from './demo-server.ts'
import { drainOnSignals, installDrain } from './drain.ts'

export interface ServeOptions {
  /** Run the demo front end (when DEMO_PORT is set); with several workers only one of them does. */
  demo?: boolean
}

/**
 * Builds the API (and the demo front end on its own port), then listens; drains both on
 * SIGINT/SIGTERM (see drain.ts) and exits 0, or 1 past SHUTDOWN_TIMEOUT_SECONDS.
 */
export async function serve(config: GatehouseConfig, options: ServeOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp(config)
  if (config.secretIsEphemeral) {
    app.log.warn('GATEHOUSE_SECRET is not set: using a per-process secret (CSRF tokens end with the process)')
  }
  const demo =
    config.demoPort > 0 && options.demo !== false
      ? await buildDemoApp({ apiBaseUrl: `http://localhost:${config.port}` })
      : null
  // Hooks must be added before listen(): Fastify refuses them on a started instance.
  const drain = installDrain(app, {
    timeoutSeconds: config.shutdownTimeoutSeconds,
    alongside: demo ? [demo] : [],
  })
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
  // Once both listen: a signal during start-up ends the process as usual (nothing was served).
  drainOnSignals(drain)
  return app
}

function displayHost(host: string): string {
  return host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host
}
