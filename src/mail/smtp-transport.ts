import nodemailer from 'nodemailer'
import { toMailSendError } from './mail-error.ts'
import type { MailTransport, OutgoingMail } from './mail-transport.ts'
import { assertOneRecipient } from './recipient.ts'
import { parseSmtpUrl } from './smtp-url.ts'

export interface SmtpTimeouts {
  /** TCP connect. */
  connectionTimeoutMs: number
  /** The server's 220 greeting after connecting. */
  greetingTimeoutMs: number
  /** Silence on an open connection. */
  socketTimeoutMs: number
  /**
   * The whole send, however the server trickles: a claimed outbox row must be settled well before
   * its lease ends, or another worker would claim and send it again.
   */
  sendTimeoutMs: number
}

export const DEFAULT_SMTP_TIMEOUTS: SmtpTimeouts = {
  connectionTimeoutMs: 10_000,
  greetingTimeoutMs: 10_000,
  socketTimeoutMs: 30_000,
  sendTimeoutMs: 60_000,
}

/**
 * One connection per message through nodemailer. On smtp:// nodemailer upgrades with STARTTLS
 * whenever the server offers it (RFC 3207) and fails rather than fall back when the upgrade
 * fails; smtps:// is TLS from the start (RFC 8314). Certificates are verified (Node's default).
 */
export function createSmtpTransport(
  smtpUrl: string,
  from: string,
  timeouts: SmtpTimeouts = DEFAULT_SMTP_TIMEOUTS,
): MailTransport {
  const server = parseSmtpUrl(smtpUrl)
  const transporter = nodemailer.createTransport({
    host: server.host,
    port: server.port,
    secure: server.secure,
    ...(server.auth ? { auth: server.auth } : {}),
    connectionTimeout: timeouts.connectionTimeoutMs,
    greetingTimeout: timeouts.greetingTimeoutMs,
    socketTimeout: timeouts.socketTimeoutMs,
    dnsTimeout: timeouts.connectionTimeoutMs,
    // nodemailer's own logger stays off: at debug level it writes the AUTH exchange and the body.
    logger: false,
    debug: false,
  })
  const secrets = server.auth ? [server.auth.pass] : []
  return {
    async send(mail: OutgoingMail) {
      assertOneRecipient(mail.to)
      try {
        await transporter.sendMail({
          from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          signal: AbortSignal.timeout(timeouts.sendTimeoutMs),
        })
      } catch (error) {
        throw toMailSendError(error, secrets)
      }
    },
    close() {
      transporter.close()
    },
    describe() {
      return server.display
    },
  }
}
