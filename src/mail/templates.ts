import type { PreparedMail } from '../accounts/outbox.ts'
import { durationInWords } from './duration-words.ts'
import { escapeHtml } from './escape-html.ts'

export interface RenderOptions {
  /** The public address of the web app, e.g. `https://example.com` (no query, no fragment). */
  appUrl: string
  productName?: string
  /** Where a user whose email address was changed behind their back can write. */
  supportEmail?: string
}

export interface RenderedMail {
  subject: string
  text: string
  html: string
}

const DEFAULT_PRODUCT_NAME = 'Gatehouse'

/**
 * The app URL without a trailing slash, refused unless it is an absolute http(s) URL with no query
 * and no fragment: the links append a path and a `#token=` fragment to it.
 */
export function normalizeAppUrl(appUrl: string): string {
  let url: URL
  try {
    url = new URL(appUrl)
  } catch {
    throw new Error('the app URL must be an absolute http or https URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error('the app URL must be an absolute http or https URL')
  }
  if (url.search || url.hash || appUrl.includes('?') || appUrl.includes('#')) {
    throw new Error('the app URL must have no query and no fragment')
  }
  return appUrl.replace(/\/+$/, '')
}

/**
 * The token travels in the fragment: browsers never send a fragment to the server nor put it in a
 * Referer header, so it stays out of access logs and third-party requests (OWASP Forgot Password
 * Cheat Sheet, "URL tokens"; RFC 9110 §10.1.3: Referer carries no fragment).
 */
function tokenLink(appUrl: string, path: string, token: string): string {
  return `${appUrl}${path}#token=${encodeURIComponent(token)}`
}

interface Paragraphs {
  subject: string
  /** Text before the link; each entry a paragraph. */
  intro: string[]
  link?: { href: string; label: string }
  /** Text after the link. */
  outro: string[]
}

function linkMail(mail: PreparedMail): { token: string; expiry: string } {
  if (!mail.token) throw new Error(`a ${mail.purpose} mail needs a token`)
  if (mail.expiresInSeconds === undefined) throw new Error(`a ${mail.purpose} mail needs its link lifetime`)
  return { token: mail.token, expiry: durationInWords(mail.expiresInSeconds) }
}

function paragraphs(mail: PreparedMail, appUrl: string, product: string, supportEmail?: string): Paragraphs {
  switch (mail.purpose) {
    case 'password-reset': {
      const { token, expiry } = linkMail(mail)
      return {
        subject: `Reset your ${product} password`,
        intro: [
          `Someone asked to reset the password of the ${product} account for ${mail.to}.`,
          'To choose a new password, open this link:',
        ],
        link: { href: tokenLink(appUrl, '/reset-password', token), label: 'Choose a new password' },
        outro: [
          `This link works for ${expiry}, and only once.`,
          'If you did not ask for this, ignore this mail: your password stays as it is.',
        ],
      }
    }
    case 'verify-email': {
      const { token, expiry } = linkMail(mail)
      return {
        subject: `Confirm your email address for ${product}`,
        intro: [`Please confirm that ${mail.to} is your email address for ${product}.`, 'Open this link:'],
        link: { href: tokenLink(appUrl, '/verify-email', token), label: 'Confirm my email address' },
        outro: [
          `This link works for ${expiry}.`,
          `If you did not sign up for ${product} or change your email address there, ignore this mail.`,
        ],
      }
    }
    case 'email-changed': {
      // Sent to the old address: a hijacker who changed it will not see this notice, the owner will
      // (OWASP Authentication Cheat Sheet: notify the user of changes to their account). Nothing
      // here signs in or resets: a password reset would now go to the new address.
      const contact = supportEmail ? `write to ${supportEmail}` : `contact the ${product} support`
      return {
        subject: `The email address of your ${product} account was changed`,
        intro: [
          `The email address of the ${product} account that used ${mail.to} was just changed. Mail about the account now goes to the new address.`,
          'If you made this change, there is nothing to do.',
          `If you did not, someone else may be using your account: if you can still sign in at ${appUrl}, change your password and set your email address back; either way, ${contact}.`,
        ],
        outro: [],
      }
    }
    default: {
      const unknown: never = mail.purpose
      throw new Error(`no template for mail purpose ${String(unknown)}`)
    }
  }
}

function textBody(content: Paragraphs): string {
  const blocks = [...content.intro, ...(content.link ? [content.link.href] : []), ...content.outro]
  return `${blocks.join('\n\n')}\n`
}

function htmlBody(content: Paragraphs): string {
  const p = (text: string) => `<p>${escapeHtml(text)}</p>`
  const link = content.link
    ? [
        `<p><a href="${escapeHtml(content.link.href)}">${escapeHtml(content.link.label)}</a></p>`,
        `<p>If the link does not open, copy this address into your browser:<br>${escapeHtml(content.link.href)}</p>`,
      ]
    : []
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(content.subject)}</title></head>`,
    '<body style="font-family: sans-serif; line-height: 1.5">',
    ...content.intro.map(p),
    ...link,
    ...content.outro.map(p),
    '</body></html>',
    '',
  ].join('\n')
}

/** The subject, plain text and HTML of one mail; every interpolated value is escaped in the HTML. */
export function renderMail(mail: PreparedMail, options: RenderOptions): RenderedMail {
  const appUrl = normalizeAppUrl(options.appUrl)
  // A subject is one header line: a line break in the product name must not start a new header.
  const product = (options.productName ?? DEFAULT_PRODUCT_NAME).replace(/\s+/g, ' ').trim()
  const content = paragraphs(mail, appUrl, product, options.supportEmail)
  return { subject: content.subject, text: textBody(content), html: htmlBody(content) }
}
