import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { durationInWords } from '../../src/mail/duration-words.ts'
import { escapeHtml } from '../../src/mail/escape-html.ts'
import { normalizeAppUrl, renderMail } from '../../src/mail/templates.ts'

const APP_URL = 'https://app.example.com'
const TOKEN = 'gth_Zm9vYmFy-_x'

describe('mail templates', () => {
  it('a password reset mail carries the link in the fragment, its lifetime and the ignore advice', () => {
    const mail = renderMail(
      { purpose: 'password-reset', to: 'ann@example.com', token: TOKEN, expiresInSeconds: 3600 },
      { appUrl: APP_URL },
    )
    const link = `${APP_URL}/reset-password#token=${TOKEN}`
    assert.equal(mail.subject, 'Reset your Gatehouse password')
    for (const body of [mail.text, mail.html]) {
      assert.ok(body.includes(link), body)
      assert.match(body, /This link works for 1 hour/)
      assert.match(body, /If you did not ask for this, ignore this mail/)
      assert.ok(body.includes('ann@example.com'))
    }
    assert.ok(mail.html.includes(`<a href="${link}">`))
    // Never in the query string or path, where server logs and Referer would carry it.
    assert.ok(!mail.text.includes(`?token=`))
    assert.ok(!mail.text.includes(`/reset-password/${TOKEN}`))
  })

  it('a verification mail links to /verify-email with the token in the fragment and its lifetime', () => {
    const mail = renderMail(
      { purpose: 'verify-email', to: 'ann@example.com', token: TOKEN, expiresInSeconds: 86_400 },
      { appUrl: `${APP_URL}/`, productName: 'Acme' },
    )
    const link = `${APP_URL}/verify-email#token=${TOKEN}`
    assert.equal(mail.subject, 'Confirm your email address for Acme')
    for (const body of [mail.text, mail.html]) {
      assert.ok(body.includes(link), body)
      assert.match(body, /This link works for 1 day/)
      assert.ok(!body.includes('Gatehouse'))
    }
  })

  it('the email-changed notice has no token link and tells the owner what to do', () => {
    const mail = renderMail(
      { purpose: 'email-changed', to: 'old@example.com', token: TOKEN, expiresInSeconds: 3600 },
      { appUrl: APP_URL, supportEmail: 'help@example.com' },
    )
    assert.equal(mail.subject, 'The email address of your Gatehouse account was changed')
    for (const body of [mail.text, mail.html]) {
      assert.ok(!body.includes(TOKEN))
      assert.ok(!body.includes('#token='))
      assert.ok(body.includes('old@example.com'))
      assert.match(body, /If you did not, someone else may be using your account/)
      assert.match(body, /change your password/)
      assert.ok(body.includes('help@example.com'))
    }
    const withoutSupport = renderMail(
      { purpose: 'email-changed', to: 'old@example.com' },
      { appUrl: APP_URL },
    )
    assert.match(withoutSupport.text, /contact the Gatehouse support/)
  })

  it('escapes every interpolated value in the HTML part, and only there', () => {
    const appUrl = 'https://evil.example/"><script>alert(1)</script>'
    const to = "o'brien&<script>@example.com"
    const productName = 'Acme <b>"Corp"</b>'
    for (const purpose of ['password-reset', 'verify-email', 'email-changed'] as const) {
      const mail = renderMail(
        { purpose, to, token: '<tok>"&', expiresInSeconds: 60 },
        { appUrl, productName },
      )
      assert.ok(!mail.html.includes('<script>'), `${purpose}: ${mail.html}`)
      assert.ok(!mail.html.includes('"><'), purpose)
      assert.ok(!mail.html.includes('<b>'), purpose)
      assert.ok(!mail.html.includes("o'brien"), purpose)
      assert.ok(mail.html.includes('o&#39;brien&amp;&lt;script&gt;@example.com'), purpose)
      assert.ok(mail.html.includes('Acme &lt;b&gt;&quot;Corp&quot;&lt;/b&gt;'), purpose)
      assert.ok(
        mail.html.includes('https://evil.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'),
        purpose,
      )
      // Plain text is not HTML: it shows the values as they are.
      assert.ok(mail.text.includes(to), purpose)
    }
    // The token is URL-encoded in the link, so it cannot end the fragment or the attribute.
    const reset = renderMail(
      { purpose: 'password-reset', to: 'a@example.com', token: '<tok>"&', expiresInSeconds: 60 },
      { appUrl: APP_URL },
    )
    assert.ok(reset.text.includes(`#token=${encodeURIComponent('<tok>"&')}`))
  })

  it('a line break in the product name does not reach the subject header', () => {
    const mail = renderMail(
      { purpose: 'password-reset', to: 'a@example.com', token: TOKEN, expiresInSeconds: 60 },
      { appUrl: APP_URL, productName: 'Acme\r\nBcc: victim@example.com' },
    )
    assert.ok(!/[\r\n]/.test(mail.subject))
  })

  it('refuses a link mail without its token or lifetime, and an app URL it cannot append to', () => {
    assert.throws(
      () =>
        renderMail(
          { purpose: 'password-reset', to: 'a@example.com', expiresInSeconds: 60 },
          { appUrl: APP_URL },
        ),
      /needs a token/,
    )
    assert.throws(
      () => renderMail({ purpose: 'verify-email', to: 'a@example.com', token: TOKEN }, { appUrl: APP_URL }),
      /needs its link lifetime/,
    )
    for (const appUrl of [
      'javascript:alert(1)',
      'app.example.com',
      'https://a.example/?x=1',
      'https://a.example/#x',
    ]) {
      assert.throws(() => normalizeAppUrl(appUrl), /app URL/, appUrl)
    }
    assert.equal(normalizeAppUrl('https://a.example/base//'), 'https://a.example/base')
  })

  it('says a lifetime in words, never longer than it is', () => {
    assert.equal(durationInWords(3600), '1 hour')
    assert.equal(durationInWords(7200), '2 hours')
    assert.equal(durationInWords(1800), '30 minutes')
    assert.equal(durationInWords(60), '1 minute')
    assert.equal(durationInWords(86_400), '1 day')
    assert.equal(durationInWords(172_800), '2 days')
    assert.equal(durationInWords(5400), '90 minutes')
    assert.equal(durationInWords(3599), '59 minutes')
    assert.equal(durationInWords(45), '45 seconds')
    assert.throws(() => durationInWords(0), RangeError)
    assert.throws(() => durationInWords(Number.NaN), RangeError)
  })

  it('escapeHtml escapes the five HTML-significant characters', () => {
    assert.equal(
      escapeHtml(`<a href="x" title='y'>&</a>`),
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    )
    assert.equal(escapeHtml('plain text'), 'plain text')
  })
})
