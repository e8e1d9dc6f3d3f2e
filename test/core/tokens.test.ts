import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import {
  generateToken,
  hashToken,
  isWellFormedToken,
  safeEqual,
  TOKEN_PREFIX,
} from '../../src/core/tokens/index.ts'

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex')

/** A generated token with the character at `index` of its secret replaced. */
function withSecretCharacter(token: string, index: number, replacement: string): string {
  const at = TOKEN_PREFIX.length + index
  return token.slice(0, at) + replacement + token.slice(at + 1)
}

describe('generateToken', () => {
  test('a token is gth_ followed by 43 base64url characters that decode to 32 bytes (256 bits)', () => {
    const { token } = generateToken()
    assert.equal(TOKEN_PREFIX, 'gth_')
    assert.match(token, /^gth_[A-Za-z0-9_-]{43}$/)
    const secret = token.slice(TOKEN_PREFIX.length)
    const bytes = Buffer.from(secret, 'base64url')
    assert.equal(bytes.length, 32)
    // Canonical unpadded base64url: decoding and re-encoding gives the same text.
    assert.equal(bytes.toString('base64url'), secret)
  })

  test('tokenHash is the SHA-256 hex of the whole token, prefix included, and never contains it', () => {
    const { token, tokenHash } = generateToken()
    assert.match(tokenHash, /^[0-9a-f]{64}$/)
    assert.equal(tokenHash, sha256Hex(token))
    assert.equal(hashToken(token), tokenHash)
    assert.notEqual(tokenHash, sha256Hex(token.slice(TOKEN_PREFIX.length)))
    assert.ok(!tokenHash.includes(token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 8)))
  })

  test('hashToken is deterministic and differs for tokens that differ by one character', () => {
    const { token } = generateToken()
    assert.equal(hashToken(token), hashToken(token))
    const other = withSecretCharacter(token, 42, token.endsWith('A') ? 'B' : 'A')
    assert.notEqual(hashToken(other), hashToken(token))
  })

  test('1000 generated tokens and their hashes are all distinct', () => {
    const issued = Array.from({ length: 1000 }, () => generateToken())
    assert.equal(new Set(issued.map((t) => t.token)).size, 1000)
    assert.equal(new Set(issued.map((t) => t.tokenHash)).size, 1000)
    // Random secrets use the whole alphabet: over 43 000 characters, all 64 symbols show up.
    const alphabet = new Set(issued.flatMap((t) => [...t.token.slice(TOKEN_PREFIX.length)]))
    assert.equal(alphabet.size, 64)
  })
})

describe('isWellFormedToken', () => {
  const token = generateToken().token
  const secret = token.slice(TOKEN_PREFIX.length)

  test('accepts every generated token', () => {
    for (let i = 0; i < 200; i++) {
      const generated = generateToken().token
      assert.equal(isWellFormedToken(generated), true, generated)
    }
  })

  test('refuses a wrong, missing, doubled or differently cased prefix', () => {
    for (const value of [
      `ght_${secret}`,
      `GTH_${secret}`,
      `gth-${secret}`,
      `gth${secret}`,
      `xgth_${secret}`,
      `gth_gth_${secret}`,
      `${secret}`,
      `_${secret.slice(0, 42)}gth`,
    ]) {
      assert.equal(isWellFormedToken(value), false, value)
    }
  })

  test('refuses a secret one character too short or too long, and the bare prefix', () => {
    assert.equal(isWellFormedToken(token.slice(0, -1)), false)
    assert.equal(isWellFormedToken(`${token}A`), false)
    assert.equal(isWellFormedToken(token + secret), false)
    assert.equal(isWellFormedToken(TOKEN_PREFIX), false)
  })

  test('refuses base64 padding', () => {
    assert.equal(isWellFormedToken(`${token}=`), false)
    assert.equal(isWellFormedToken(`${token.slice(0, -1)}=`), false)
    assert.equal(isWellFormedToken(`${token.slice(0, -2)}==`), false)
  })

  test('refuses characters outside base64url (standard base64 + and /, dot, punctuation, NUL)', () => {
    for (const character of ['+', '/', '.', '!', '%', '~', '$', '\0']) {
      assert.equal(
        isWellFormedToken(withSecretCharacter(token, 10, character)),
        false,
        JSON.stringify(character),
      )
    }
  })

  test('refuses whitespace anywhere: leading, trailing, a final newline, inside', () => {
    for (const value of [
      ` ${token}`,
      `${token} `,
      `${token}\n`,
      `${token}\r\n`,
      `\t${token}`,
      withSecretCharacter(token, 20, ' '),
      withSecretCharacter(token, 20, '\t'),
      withSecretCharacter(token, 42, '\n'),
    ]) {
      assert.equal(isWellFormedToken(value), false, JSON.stringify(value))
    }
  })

  test('refuses non-ASCII look-alikes and invisible characters', () => {
    for (const character of ['é', 'Ａ', 'а', '٣', '😀', '\u200b']) {
      assert.equal(
        isWellFormedToken(withSecretCharacter(token, 5, character)),
        false,
        JSON.stringify(character),
      )
    }
    assert.equal(isWellFormedToken(`${token}\u200b`), false)
    assert.equal(isWellFormedToken(`ｇth_${secret}`), false)
  })

  test('refuses the empty string', () => {
    assert.equal(isWellFormedToken(''), false)
  })
})

describe('safeEqual', () => {
  test('a string equals itself and an identical copy; two empty strings are equal', () => {
    const { token } = generateToken()
    assert.equal(safeEqual(token, token), true)
    assert.equal(safeEqual(token, Buffer.from(token).toString()), true)
    assert.equal(safeEqual('', ''), true)
  })

  test('strings of one length that differ in the first, a middle or the last character are unequal', () => {
    const { token } = generateToken()
    for (const index of [0, 20, 42]) {
      const other = withSecretCharacter(token, index, token[TOKEN_PREFIX.length + index] === 'A' ? 'B' : 'A')
      assert.equal(safeEqual(token, other), false, `index ${index}`)
    }
    assert.equal(safeEqual('abc', 'abd'), false)
  })

  test('strings of different lengths are unequal (no throw from timingSafeEqual), in both orders', () => {
    assert.equal(safeEqual('abc', 'abcd'), false)
    assert.equal(safeEqual('abcd', 'abc'), false)
    assert.equal(safeEqual('', 'a'), false)
    assert.equal(safeEqual('a', ''), false)
  })

  test('unicode: equal strings are equal, and a same-length string of another UTF-8 size is unequal', () => {
    assert.equal(safeEqual('pässwörd-🔑', 'pässwörd-🔑'), true)
    assert.equal(safeEqual('pässwörd-🔑', 'pässwörd-🔒'), false)
    // One UTF-16 unit each, but 2 bytes against 1 in UTF-8: must be false, not a RangeError.
    assert.equal('é'.length, 'e'.length)
    assert.equal(safeEqual('é', 'e'), false)
    assert.equal(safeEqual('e', 'é'), false)
  })

  test('unicode: composed and decomposed é are different strings and compare unequal (no normalisation)', () => {
    assert.equal(safeEqual('caf\u00e9', 'cafe\u0301'), false)
  })

  test('unicode: distinct lone surrogates and U+FFFD compare unequal', () => {
    assert.equal(safeEqual('\ud800', '\udc00'), false)
    assert.equal(safeEqual('key-\ud800', 'key-\ufffd'), false)
  })
})
