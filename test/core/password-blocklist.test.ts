import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { describe, test } from 'node:test'
import { commonPasswordSet } from '../../src/core/passwords/blocklist.ts'
import {
  createPasswordPolicy,
  isCommonPassword,
  passwordPolicyViolation,
} from '../../src/core/passwords/index.ts'

const PACKAGE = '@zxcvbn-ts/language-common'
const require = createRequire(import.meta.url)
const isListLoaded = () => Object.keys(require.cache).some((path) => path.includes(PACKAGE))

// Read before any test runs: node:test gives each file its own process, so nothing else has
// checked a password yet.
const loadedAtImport = isListLoaded()

const TOO_COMMON = { code: 'PASSWORD_TOO_COMMON', message: 'This password is too common: choose another' }
const policy = createPasswordPolicy()

describe('common-password blocklist', () => {
  test('importing the passwords module loads no list: it is read on the first check', () => {
    assert.equal(loadedAtImport, false)
    isCommonPassword('anything at all')
    assert.equal(isListLoaded(), true)
  })

  test('the loaded set holds at least the 3,000 most common passwords (ASVS 5.0 V6.2.4)', () => {
    const set = commonPasswordSet()
    assert.ok(set.size >= 3000, `only ${set.size} entries`)
    assert.equal(commonPasswordSet(), set, 'the set is built once, then shared')
    // The head of the list is the head of any breach corpus.
    for (const listed of ['123456', 'password', '12345678', 'qwerty', 'iloveyou']) {
      assert.ok(set.has(listed), listed)
    }
    assert.equal(set.has(''), false)
  })

  test('common passwords are refused as PASSWORD_TOO_COMMON', () => {
    for (const common of ['password', '12345678', 'qwertyuiop', 'trustno1', 'p@ssw0rd', 'passwordpassword']) {
      assert.deepEqual(policy.violation(common), TOO_COMMON, common)
    }
  })

  test('the comparison ignores case: Password and PASSWORD are refused like password', () => {
    for (const variant of ['Password', 'PASSWORD', 'pAsSwOrD', 'QwertyUIOP']) {
      assert.deepEqual(policy.violation(variant), TOO_COMMON, variant)
    }
  })

  test('the comparison is after NFKC, as hashing is: fullwidth letters fold onto a listed password', () => {
    const fullwidth = '\uff30\uff41\uff53\uff53\uff57\uff4f\uff52\uff44' // Ｐａｓｓｗｏｒｄ
    assert.notEqual(fullwidth.toLowerCase(), 'password')
    assert.equal(fullwidth.normalize('NFKC'), 'Password')
    assert.deepEqual(policy.violation(fullwidth), TOO_COMMON)
    const ligature = '\ufb01refighter' // ﬁrefighter: U+FB01 folds onto "fi"
    assert.ok(isCommonPassword('firefighter'), 'firefighter is expected on the list')
    assert.deepEqual(policy.violation(ligature), TOO_COMMON)
  })

  test('a whole-password match only: a strong random password and a listed word inside a longer one pass', () => {
    const random = randomBytes(15).toString('base64url') // 20 characters, 120 bits
    assert.equal(policy.violation(random), null, random)
    assert.equal(isCommonPassword(random), false)
    assert.equal(policy.violation('password-is-mine-alone'), null)
    assert.equal(policy.violation('correct horse battery staple'), null)
  })

  test('the length rule answers first: a short listed password is PASSWORD_POLICY, not too common', () => {
    assert.equal(isCommonPassword('abc123'), true)
    assert.deepEqual(policy.violation('abc123'), {
      code: 'PASSWORD_POLICY',
      message: 'Password must be at least 8 characters',
    })
  })

  test('the length-only rule of existing callers still accepts a listed password', () => {
    assert.equal(passwordPolicyViolation('password'), null)
  })

  test('cost of a check once the list is loaded (printed, not asserted)', (t) => {
    commonPasswordSet()
    const candidates = Array.from({ length: 10_000 }, (_, i) => `Candidate-${i}-${i * 7919}`)
    const time = (check: (password: string) => unknown) => {
      const started = performance.now()
      for (const candidate of candidates) check(candidate)
      return performance.now() - started
    }
    // One warm-up round each, so the JIT has compiled both before the measured round.
    time((p) => policy.violation(p))
    time(passwordPolicyViolation)
    const withBlocklist = time((p) => policy.violation(p))
    const lengthOnly = time(passwordPolicyViolation)
    t.diagnostic(
      `10,000 checks: ${withBlocklist.toFixed(2)} ms with the blocklist, ${lengthOnly.toFixed(2)} ms length only ` +
        `(${((withBlocklist * 1000) / 10_000).toFixed(2)} µs vs ${((lengthOnly * 1000) / 10_000).toFixed(2)} µs per check)`,
    )
    // Every candidate passes, so both loops did the full work.
    assert.ok(candidates.every((p) => policy.violation(p) === null))
  })
})
