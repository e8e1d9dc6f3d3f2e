/** How much of an error message is kept: enough to tell the cause, short enough for a log line. */
export const ERROR_SUMMARY_LENGTH = 200

/**
 * A failed send, reduced to what may be stored and logged: the error code and the start of the
 * message, with every secret the transport knows (the SMTP password and its encodings) cut out.
 * Nothing else of the original error is kept, so no stack, response or command text (which may
 * hold an AUTH exchange) travels further (OWASP Logging Cheat Sheet, "Data to exclude").
 */
export class MailSendError extends Error {
  override readonly name = 'MailSendError'
  readonly code: string | undefined
  /**
   * The server refused this message or recipient for good (an RFC 5321 §4.2.1 5yz reply to the
   * envelope or the data), or the recipient is no address at all: sending it again cannot work.
   */
  readonly permanent: boolean

  constructor(message: string, options: { code?: string; permanent?: boolean } = {}) {
    super(message)
    this.code = options.code
    this.permanent = options.permanent ?? false
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/i.test(code) ? code : undefined
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Every form a secret may take in an SMTP dialogue or a URL: clear, base64, percent-encoded. */
function secretForms(secret: string): string[] {
  return [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret)]
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** One line, every secret replaced, at most ERROR_SUMMARY_LENGTH characters. */
function shortMessage(message: string, secrets: readonly string[]): string {
  const line = message.replace(/\s+/g, ' ')
  const forms = [...new Set(secrets.filter(Boolean).flatMap(secretForms))].sort((a, b) => b.length - a.length)
  // One pass, longest form first: a replacement is never searched again for a shorter secret.
  const redacted = forms.length
    ? line.replace(new RegExp(forms.map(escapeRegExp).join('|'), 'g'), '[redacted]')
    : line
  return redacted.trim().slice(0, ERROR_SUMMARY_LENGTH)
}

/** `CODE: message`, one line, secrets replaced, at most ERROR_SUMMARY_LENGTH characters of message. */
export function summarizeError(error: unknown, secrets: readonly string[] = []): string {
  const message = shortMessage(errorMessage(error), secrets)
  const code = errorCode(error)
  return code ? `${code}: ${message}` : message
}

/** The nodemailer error as a MailSendError: secrets cut out, permanence kept for envelope/data refusals. */
export function toMailSendError(error: unknown, secrets: readonly string[]): MailSendError {
  const code = errorCode(error)
  const refusedForGood = (error as { permanent?: unknown } | null)?.permanent === true
  // A 5yz to AUTH (a wrong password) is permanent for that password, not for the mail: once the
  // operator fixes SMTP_URL, the mail can go. Only a refused envelope or message is final.
  const permanent = refusedForGood && (code === 'EENVELOPE' || code === 'EMESSAGE')
  const message = shortMessage(errorMessage(error), secrets)
  return new MailSendError(message, { ...(code ? { code } : {}), permanent })
}
