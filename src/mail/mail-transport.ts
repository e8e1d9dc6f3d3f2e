/** One message, already rendered, to one recipient. */
export interface OutgoingMail {
  to: string
  subject: string
  text: string
  html: string
}

export interface MailTransport {
  /** Resolves once the message is handed over; rejects with a MailSendError (no secret in it). */
  send(mail: OutgoingMail): Promise<void>
  close(): void
  /** Where mail goes, for the startup log line: never a password. */
  describe(): string
}

export interface MailLog {
  info(obj: object, msg: string): void
}
