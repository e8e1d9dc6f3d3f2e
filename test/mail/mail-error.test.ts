import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { retryDelayMs } from '../../src/mail/backoff.ts'
import { ERROR_SUMMARY_LENGTH, summarizeError, toMailSendError } from '../../src/mail/mail-error.ts'

describe('error summaries', () => {
  it('keep the code and the start of the message, on one line', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED\n127.0.0.1:25'), { code: 'ESOCKET' })
    assert.equal(summarizeError(error), 'ESOCKET: connect ECONNREFUSED 127.0.0.1:25')
    assert.equal(summarizeError('plain'), 'plain')
    const long = summarizeError(Object.assign(new Error('y'.repeat(1000)), { code: 'EMESSAGE' }))
    assert.equal(long, `EMESSAGE: ${'y'.repeat(ERROR_SUMMARY_LENGTH)}`)
    // A code that is not a plain identifier is no code (it could carry anything).
    assert.equal(summarizeError(Object.assign(new Error('m'), { code: 'a b\nc' })), 'm')
  })

  it('cut out every form of a secret: clear, base64, percent-encoded', () => {
    const pass = 'p@ss word/1'
    const message = `bad ${pass} or ${Buffer.from(pass).toString('base64')} or ${encodeURIComponent(pass)}`
    const summary = summarizeError(new Error(message), [pass])
    assert.equal(summary, 'bad [redacted] or [redacted] or [redacted]')
    // Short secrets too: no length below which a password may leak.
    assert.equal(summarizeError(new Error('xAx'), ['A']), 'x[redacted]x')
  })

  it('a mail error is permanent only for a refused envelope or message, not for a refused login', () => {
    const refused = (code: string) =>
      Object.assign(new Error('550 no'), { code, responseCode: 550, permanent: true })
    assert.equal(toMailSendError(refused('EENVELOPE'), []).permanent, true)
    assert.equal(toMailSendError(refused('EMESSAGE'), []).permanent, true)
    assert.equal(toMailSendError(refused('EAUTH'), []).permanent, false)
    const transient = Object.assign(new Error('421 busy'), {
      code: 'EENVELOPE',
      responseCode: 421,
      permanent: false,
    })
    assert.equal(toMailSendError(transient, []).permanent, false)
    const converted = toMailSendError(Object.assign(new Error('535 no for s3cret'), { code: 'EAUTH' }), [
      's3cret',
    ])
    assert.equal(converted.code, 'EAUTH')
    assert.equal(converted.message, '535 no for [redacted]')
  })
})

describe('retry back-off', () => {
  it('doubles from the initial delay, is capped, and is jittered within its upper half', () => {
    const backoff = { initialMs: 5_000, maxMs: 3_600_000 }
    assert.equal(
      retryDelayMs(1, backoff, () => 0),
      2_500,
    )
    assert.equal(
      retryDelayMs(1, backoff, () => 1),
      5_000,
    )
    assert.equal(
      retryDelayMs(2, backoff, () => 1),
      10_000,
    )
    assert.equal(
      retryDelayMs(4, backoff, () => 1),
      40_000,
    )
    assert.equal(
      retryDelayMs(30, backoff, () => 1),
      3_600_000,
    )
    assert.equal(
      retryDelayMs(30, backoff, () => 0),
      1_800_000,
    )
    assert.equal(
      retryDelayMs(10_000, backoff, () => 1),
      3_600_000,
    )
    for (let attempt = 1; attempt < 12; attempt++) {
      const delay = retryDelayMs(attempt, backoff)
      assert.ok(delay > 0 && delay <= 3_600_000)
    }
  })
})
