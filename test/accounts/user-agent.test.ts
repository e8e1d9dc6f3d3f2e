import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { summarizeUserAgent } from '../../src/accounts/user-agent.ts'

/** Printable ASCII (space included), at most 100 characters: what a sessions list may show. */
const SHOWABLE = /^[\x20-\x7e]{1,100}$/

describe('user agent summaries', () => {
  for (const [header, summary] of [
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      'Chrome 126 on Windows',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36',
      'Chrome 126 on Android',
    ],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox 128 on Linux'],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0',
      'Firefox 127 on macOS',
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Safari 17 on macOS',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Safari 17 on iOS',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68',
      'Edge 126 on Windows',
    ],
    ['curl/8.5.0', 'curl 8'],
    ['python-requests/2.32.3', 'python-requests/2.32.3'],
  ] as const) {
    it(`summarises ${header.slice(0, 60)}… as "${summary}"`, () => {
      assert.equal(summarizeUserAgent(header), summary)
    })
  }

  for (const empty of [null, undefined, '', ' ', '\u0000\u0001\u007f']) {
    it(`is null for ${JSON.stringify(empty)}`, () => {
      assert.equal(summarizeUserAgent(empty), null)
    })
  }

  it('drops characters that are not printable from an unknown client', () => {
    assert.equal(summarizeUserAgent('my\u0000-\u001bagent\u00e9/1.0 (extra)'), 'my-agent/1.0')
  })

  const garbage: [label: string, header: string][] = [
    ['random bytes', randomBytes(10_240).toString('latin1')],
    ['random base64', randomBytes(7_680).toString('base64')],
    ['one long word', 'A'.repeat(10_240)],
    ['a browser name with a 10 kB version', `Mozilla/5.0 (X11; Linux x86_64) Chrome/${'9'.repeat(10_240)}`],
    ['a Safari version of 10 kB', `Version/${'1'.repeat(10_240)} Safari/605.1.15`],
    ['control characters', '\u0001\u0002'.repeat(5_120)],
  ]
  for (const [label, header] of garbage) {
    it(`reduces a 10 kB header (${label}) to at most 100 printable characters`, () => {
      assert.ok(header.length >= 10_000)
      const summary = summarizeUserAgent(header)
      // Not assert.match: a failure would print the whole 10 kB summary.
      if (summary !== null) {
        assert.ok(
          SHOWABLE.test(summary),
          `${summary.length} characters: ${JSON.stringify(summary.slice(0, 40))}…`,
        )
      }
    })
  }

  it('summarises a header of Node’s largest size (16 kB) in linear time, not quadratic', () => {
    // `Version/` then digits and no space: a backtracking pattern tries every split of the run.
    const header = `Version/${'1'.repeat(16_000)}`
    let fastest = Number.POSITIVE_INFINITY
    for (let run = 0; run < 3; run++) {
      const started = performance.now()
      summarizeUserAgent(header)
      fastest = Math.min(fastest, performance.now() - started)
    }
    // A linear scan of 16 kB takes well under a millisecond; the event loop must not stall on it.
    assert.ok(fastest < 20, `${fastest.toFixed(1)} ms for one 16 kB header`)
  })
})
