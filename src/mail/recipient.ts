import { emailViolation } from '../core/email/index.ts'
import { MailSendError } from './mail-error.ts'

/**
 * The recipient must be exactly one address of the account email grammar: nodemailer reads a
 * `to` string as an address list, so `a@example.com, b@example.net` would mail the link to both.
 */
export function assertOneRecipient(to: string): void {
  if (emailViolation(to) !== null) {
    throw new MailSendError('the recipient is not one valid email address', { permanent: true })
  }
}
