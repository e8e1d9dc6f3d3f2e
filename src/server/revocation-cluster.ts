import cluster, { type Worker } from 'node:cluster'
import {
  createListenerSet,
  encodeRevocation,
  type Revocation,
  type RevocationChannel,
} from '../accounts/revocation-channel.ts'

/**
 * Revocations between the workers of one `serve --workers N`, over node:cluster's IPC pipes:
 * a worker sends to the primary, which hands the message to every other worker. No network and
 * no extra service, so SQLite with several workers gets instant revocation too. Each worker has its
 * own token cache; a worker that starts (or restarts) begins with an empty one, so nothing it
 * missed before it existed matters.
 */
const TAG = 'gatehouse:revocation'

interface RevocationMessage {
  type: typeof TAG
  revocation: string
}

const isRevocationMessage = (message: unknown): message is RevocationMessage =>
  typeof message === 'object' &&
  message !== null &&
  (message as RevocationMessage).type === TAG &&
  typeof (message as RevocationMessage).revocation === 'string'

/**
 * In the primary: relays every worker's revocation to the other workers (the sender already
 * dropped its own entries). Returns the function that stops relaying.
 */
export function relayClusterRevocations(): () => void {
  const relay = (sender: Worker, message: unknown) => {
    if (!isRevocationMessage(message)) return
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker === undefined || worker === sender || !worker.isConnected()) continue
      // A worker that is exiting may refuse: it has no cache left to keep coherent.
      worker.send(message, (error: Error | null) => void error)
    }
  }
  cluster.on('message', relay)
  return () => {
    cluster.off('message', relay)
  }
}

/** True in a worker started by node:cluster, which has an IPC pipe to its primary. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && typeof process.send === 'function'
}

/** In a worker: publishes to, and hears from, the other workers through the primary. */
export function clusterRevocationChannel(): RevocationChannel {
  const listeners = createListenerSet()
  const onMessage = (message: unknown) => {
    if (isRevocationMessage(message)) listeners.deliver(message.revocation)
  }
  process.on('message', onMessage)
  return {
    publish(revocation: Revocation): Promise<void> {
      const message: RevocationMessage = { type: TAG, revocation: encodeRevocation(revocation) }
      return new Promise((resolve) => {
        // The pipe is gone only when the primary is: this worker is then being shut down.
        if (!process.connected || process.send === undefined) return resolve()
        try {
          process.send(message, undefined, {}, () => resolve())
        } catch {
          resolve()
        }
      })
    },
    subscribe: (listener) => listeners.add(listener),
    async close() {
      process.off('message', onMessage)
    },
  }
}
