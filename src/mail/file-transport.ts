import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import nodemailer from 'nodemailer'
import type { MailLog, MailTransport, OutgoingMail } from './mail-transport.ts'
import { assertOneRecipient } from './recipient.ts'

export const DEFAULT_OUTBOX_DIR = 'data/outbox'

/** Sortable by time, unique by the random part, nothing taken from the mail itself. */
function fileName(now: Date): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(6).toString('hex')}.eml`
}

/**
 * Development: each mail becomes an RFC 5322 message file (CRLF lines, as RFC 5322 §2.1 has
 * them) that any mail client opens. The file holds a live reset or verification link, so the
 * folder is the owner's alone (0700) and so is each file (0600); the log line names the file and
 * nothing of its content (OWASP Logging Cheat Sheet, "Data to exclude").
 */
export function createFileTransport(
  from: string,
  outboxDir = DEFAULT_OUTBOX_DIR,
  log?: MailLog,
): MailTransport {
  const dir = resolve(outboxDir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
  return {
    async send(mail: OutgoingMail) {
      assertOneRecipient(mail.to)
      const info = await composer.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      })
      const file = join(dir, fileName(new Date()))
      // `wx`: never overwrite, never follow a link planted under that name.
      await writeFile(file, info.message as Buffer, { mode: 0o600, flag: 'wx' })
      log?.info({ file }, 'mail written')
    },
    close() {
      composer.close()
    },
    describe() {
      return `files in ${dir}`
    },
  }
}
