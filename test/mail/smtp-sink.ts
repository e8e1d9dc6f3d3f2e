/**
 * A real SMTP server on loopback that keeps what it receives: the envelope and the raw message.
 * No STARTTLS (no certificate on loopback); AUTH PLAIN/LOGIN over the clear loopback connection
 * when credentials are given.
 */
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  from: string
  to: string[]
  raw: string
  user: string | undefined
}

export interface SmtpSink {
  port: number
  url: (credentials?: { user: string; pass: string }) => string
  received: ReceivedMail[]
  /** Resolves once `count` mails have arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface SmtpSinkOptions {
  port?: number
  credentials?: { user: string; pass: string }
  /** Called with each message before it is accepted; the server answers when it resolves. */
  beforeAccept?: () => Promise<void>
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMail[] = []
  const waiters: (() => void)[] = []
  const credentials = options.credentials
  const server = new SMTPServer({
    secure: false,
    disabledCommands: credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !credentials,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (credentials && auth.username === credentials.user && auth.password === credentials.pass) {
        callback(null, { user: auth.username })
        return
      }
      callback(new Error('Invalid username or password'))
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const accept = options.beforeAccept ?? (async () => {})
        accept().then(
          () => {
            received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
              raw: Buffer.concat(chunks).toString('utf8'),
              user: typeof session.user === 'string' ? session.user : undefined,
            })
            for (const waiter of waiters.splice(0)) waiter()
            callback()
          },
          (error: Error) => callback(error),
        )
      })
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const port = (server.server.address() as AddressInfo).port
  return {
    port,
    received,
    url: (auth) =>
      auth
        ? `smtp://${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@127.0.0.1:${port}`
        : `smtp://127.0.0.1:${port}`,
    waitFor(count, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${received.length} of ${count} mails arrived`)),
          timeoutMs,
        )
        const check = () => {
          if (received.length >= count) {
            clearTimeout(timer)
            resolve()
          } else waiters.push(check)
        }
        check()
      })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
