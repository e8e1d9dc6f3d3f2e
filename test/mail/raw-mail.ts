/**
 * Just enough of RFC 5322 / RFC 2045 to read what nodemailer writes: headers (unfolded), a
 * multipart/alternative body, and the quoted-printable, base64 and 7bit transfer encodings.
 */

export interface ParsedMail {
  headers: Map<string, string>
  /** The decoded text/plain part. */
  text: string
  /** The decoded text/html part. */
  html: string
}

function splitHeadersAndBody(raw: string): { head: string; body: string } {
  const match = /\r?\n\r?\n/.exec(raw)
  if (!match) return { head: raw, body: '' }
  return { head: raw.slice(0, match.index), body: raw.slice(match.index + match[0].length) }
}

function parseHeaders(head: string): Map<string, string> {
  const headers = new Map<string, string>()
  // RFC 5322 §2.2.3: a line starting with white space continues the header before it.
  const unfolded = head.replace(/\r?\n(?=[ \t])/g, '')
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return headers
}

function decodeQuotedPrintable(body: string): string {
  const softBreaksRemoved = body.replace(/=\r?\n/g, '')
  const bytes: number[] = []
  for (let i = 0; i < softBreaksRemoved.length; i++) {
    const char = softBreaksRemoved[i] ?? ''
    const hex = softBreaksRemoved.slice(i + 1, i + 3)
    if (char === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(Number.parseInt(hex, 16))
      i += 2
    } else {
      bytes.push(...Buffer.from(char, 'utf8'))
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'quoted-printable':
      return decodeQuotedPrintable(body)
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
    default:
      return body
  }
}

/** RFC 2047 encoded words, as nodemailer writes a non-ASCII subject. */
export function decodeHeaderValue(value: string): string {
  return value.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_, kind: string, data: string) =>
    kind.toLowerCase() === 'b'
      ? Buffer.from(data, 'base64').toString('utf8')
      : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  )
}

export function parseRawMail(raw: string): ParsedMail {
  const { head, body } = splitHeadersAndBody(raw)
  const headers = parseHeaders(head)
  const contentType = headers.get('content-type') ?? 'text/plain'
  const parts: { type: string; content: string }[] = []
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1]
  if (boundary && /^multipart\//i.test(contentType)) {
    const sections = body.split(`--${boundary}`).slice(1)
    for (const section of sections) {
      if (section.startsWith('--')) break
      const part = splitHeadersAndBody(section.replace(/^\r?\n/, ''))
      const partHeaders = parseHeaders(part.head)
      parts.push({
        type: partHeaders.get('content-type') ?? 'text/plain',
        content: decodeBody(part.body.replace(/\r?\n$/, ''), partHeaders.get('content-transfer-encoding')),
      })
    }
  } else {
    parts.push({ type: contentType, content: decodeBody(body, headers.get('content-transfer-encoding')) })
  }
  const find = (type: string) => parts.find((part) => part.type.toLowerCase().startsWith(type))?.content ?? ''
  return { headers, text: find('text/plain'), html: find('text/html') }
}
