import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Algorithm, hash as argon2Hash, verify as argon2Verify, parseOptions } from '@node-rs/argon2'
import bcrypt from 'bcryptjs'
import {
  argon2idParameters,
  createPasswordHasher,
  createPasswordPolicy,
  DEFAULT_ARGON2_PARAMETERS,
  isArgon2idOutdated,
  isBcryptHash,
  isVerifiablePassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  passwordPolicyViolation,
} from '../../src/core/passwords/index.ts'

// @node-rs/argon2's enums are const enums, which isolated modules cannot read.
const ARGON2D = 0 as Algorithm
const ARGON2I = 1 as Algorithm
const ARGON2ID = 2 as Algorithm

const OWASP = { memoryCost: 19456, timeCost: 2, parallelism: 1 }
const PASSWORD = 'Correct-Horse-Battery-9'
const WRONG_PASSWORD = 'Correct-Horse-Battery-8'
const TOO_SHORT = 'Password must be at least 8 characters'
const TOO_LONG = 'Password must be at most 1024 characters'

/** `$argon2id$v=19$m=…,t=…,p=…$salt$hash` split into its fields. */
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

function phcFields(phc: string): { m: number; t: number; p: number; salt: string; digest: string } {
  const match = PHC.exec(phc)
  assert.ok(match, `not an argon2id v19 PHC string: ${phc}`)
  const [, m = '', t = '', p = '', salt = '', digest = ''] = match
  return { m: Number(m), t: Number(t), p: Number(p), salt, digest }
}

const hasher = createPasswordHasher()

describe('argon2id hashing', () => {
  test('the default parameters are at least the OWASP minimum for argon2id', () => {
    assert.ok(DEFAULT_ARGON2_PARAMETERS.memoryCost >= OWASP.memoryCost)
    assert.ok(DEFAULT_ARGON2_PARAMETERS.timeCost >= OWASP.timeCost)
    assert.equal(DEFAULT_ARGON2_PARAMETERS.parallelism, OWASP.parallelism)
  })

  test('hash produces an argon2id v19 PHC string with m >= 19456, t >= 2, p = 1', async () => {
    const stored = await hasher.hash(PASSWORD)
    const fields = phcFields(stored)
    assert.ok(fields.m >= OWASP.memoryCost, `m=${fields.m}`)
    assert.ok(fields.t >= OWASP.timeCost, `t=${fields.t}`)
    assert.equal(fields.p, 1)
    // The library's own parser agrees with the string (algorithm 2 is argon2id, version 1 is 0x13).
    const parsed = parseOptions(stored)
    assert.equal(parsed.algorithm, ARGON2ID)
    assert.equal(parsed.memoryCost, fields.m)
    assert.equal(parsed.timeCost, fields.t)
    assert.ok(parsed.saltLen >= 16, `salt of ${parsed.saltLen} bytes`)
    assert.ok(!stored.includes(PASSWORD))
  })

  test('two hashes of one password differ in salt and digest, and both verify', async () => {
    const [first, second] = await Promise.all([hasher.hash(PASSWORD), hasher.hash(PASSWORD)])
    assert.notEqual(first, second)
    assert.notEqual(phcFields(first).salt, phcFields(second).salt)
    assert.notEqual(phcFields(first).digest, phcFields(second).digest)
    assert.deepEqual(await hasher.verifyAndUpgrade(PASSWORD, first), { valid: true, upgradedHash: null })
    assert.deepEqual(await hasher.verifyAndUpgrade(PASSWORD, second), { valid: true, upgradedHash: null })
  })

  test('argon2idParameters reads the PHC parameters, and is null for anything but argon2id', () => {
    assert.deepEqual(argon2idParameters('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA'), {
      version: 19,
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    })
    assert.equal(argon2idParameters('$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA'), null)
    assert.equal(argon2idParameters('$2b$04$abcdefghijklmnopqrstuu'), null)
    assert.equal(argon2idParameters(''), null)
  })

  test('isArgon2idOutdated flags weaker memory, time, parallelism or version, not equal or stronger', () => {
    const current = { memoryCost: 19456, timeCost: 2, parallelism: 1 }
    const phc = (v: number, m: number, t: number, p: number) =>
      `$argon2id$v=${v}$m=${m},t=${t},p=${p}$c2FsdA$aA`
    assert.equal(isArgon2idOutdated(phc(19, 19456, 2, 1), current), false)
    assert.equal(isArgon2idOutdated(phc(19, 65536, 3, 1), current), false)
    assert.equal(isArgon2idOutdated(phc(19, 19455, 2, 1), current), true)
    assert.equal(isArgon2idOutdated(phc(19, 19456, 1, 1), current), true)
    assert.equal(isArgon2idOutdated(phc(16, 19456, 2, 1), current), true)
    assert.equal(isArgon2idOutdated(phc(19, 19456, 2, 1), { ...current, parallelism: 2 }), true)
    assert.equal(isArgon2idOutdated('not a hash', current), true)
  })
})

describe('verifyAndUpgrade', () => {
  test('the correct password against a current hash is valid and needs no upgrade', async () => {
    const stored = await hasher.hash(PASSWORD)
    assert.deepEqual(await hasher.verifyAndUpgrade(PASSWORD, stored), { valid: true, upgradedHash: null })
  })

  test('a wrong password is invalid and never produces an upgrade', async () => {
    const stored = await hasher.hash(PASSWORD)
    for (const attempt of [WRONG_PASSWORD, '', PASSWORD.toLowerCase(), `${PASSWORD} `, `${PASSWORD}\n`]) {
      assert.deepEqual(
        await hasher.verifyAndUpgrade(attempt, stored),
        { valid: false, upgradedHash: null },
        JSON.stringify(attempt),
      )
    }
  })

  test('a legacy bcrypt hash (bcryptjs, cost 4) verifies and is upgraded to an argon2id hash that verifies', async () => {
    const legacy = await bcrypt.hash(PASSWORD, 4)
    assert.equal(isBcryptHash(legacy), true)
    const result = await hasher.verifyAndUpgrade(PASSWORD, legacy)
    assert.equal(result.valid, true)
    assert.ok(result.upgradedHash, 'no upgraded hash for a bcrypt hash')
    phcFields(result.upgradedHash)
    assert.deepEqual(await hasher.verifyAndUpgrade(PASSWORD, result.upgradedHash), {
      valid: true,
      upgradedHash: null,
    })
    assert.deepEqual(await hasher.verifyAndUpgrade(WRONG_PASSWORD, result.upgradedHash), {
      valid: false,
      upgradedHash: null,
    })
  })

  test('a wrong password against a bcrypt hash is invalid, with no upgrade', async () => {
    const legacy = await bcrypt.hash(PASSWORD, 4)
    assert.deepEqual(await hasher.verifyAndUpgrade(WRONG_PASSWORD, legacy), {
      valid: false,
      upgradedHash: null,
    })
  })

  test('bcrypt hashes with the $2a$ and $2y$ prefixes verify too; $2x$ is not accepted', async () => {
    const legacy = await bcrypt.hash(PASSWORD, 4)
    for (const prefix of ['$2a$', '$2y$']) {
      const result = await hasher.verifyAndUpgrade(PASSWORD, legacy.replace('$2b$', prefix))
      assert.equal(result.valid, true, prefix)
      assert.ok(result.upgradedHash?.startsWith('$argon2id$'), prefix)
    }
    assert.deepEqual(await hasher.verifyAndUpgrade(PASSWORD, legacy.replace('$2b$', '$2x$')), {
      valid: false,
      upgradedHash: null,
    })
  })

  test('a bcrypt hash accepts a password that differs only after its 72nd byte (bcrypt truncation)', async () => {
    // Inherited from the legacy scheme, documented here: bcrypt only ever saw the first 72 bytes.
    const long = `${'p'.repeat(72)}-the-real-suffix`
    const legacy = await bcrypt.hash(long, 4)
    const result = await hasher.verifyAndUpgrade(`${'p'.repeat(72)}-another-suffix`, legacy)
    assert.equal(result.valid, true)
    // Not upgraded: rehashing the typed password would silently replace the user's real one.
    assert.equal(result.upgradedHash, null)
    assert.equal((await hasher.verifyAndUpgrade(long, legacy)).upgradedHash, null)
    assert.deepEqual(await hasher.verifyAndUpgrade(`${'p'.repeat(71)}q-the-real-suffix`, legacy), {
      valid: false,
      upgradedHash: null,
    })
  })

  test('an argon2id hash with weaker parameters (m=4096, t=1) verifies and is upgraded to the current ones', async () => {
    const weak = await argon2Hash(PASSWORD, {
      algorithm: ARGON2ID,
      memoryCost: 4096,
      timeCost: 1,
      parallelism: 1,
    })
    assert.match(weak, /^\$argon2id\$v=19\$m=4096,t=1,p=1\$/)
    const result = await hasher.verifyAndUpgrade(PASSWORD, weak)
    assert.equal(result.valid, true)
    assert.ok(result.upgradedHash, 'no upgrade for a weak hash')
    const fields = phcFields(result.upgradedHash)
    assert.equal(fields.m, DEFAULT_ARGON2_PARAMETERS.memoryCost)
    assert.equal(fields.t, DEFAULT_ARGON2_PARAMETERS.timeCost)
    assert.deepEqual(await hasher.verifyAndUpgrade(PASSWORD, result.upgradedHash), {
      valid: true,
      upgradedHash: null,
    })
  })

  test('a wrong password against a weak argon2id hash is invalid, with no upgrade', async () => {
    const weak = await argon2Hash(PASSWORD, {
      algorithm: ARGON2ID,
      memoryCost: 4096,
      timeCost: 1,
      parallelism: 1,
    })
    assert.deepEqual(await hasher.verifyAndUpgrade(WRONG_PASSWORD, weak), {
      valid: false,
      upgradedHash: null,
    })
  })

  test('an argon2id hash with stronger parameters than the current ones is not downgraded', async () => {
    const strong = await argon2Hash(PASSWORD, {
      algorithm: ARGON2ID,
      memoryCost: 32768,
      timeCost: 3,
      parallelism: 1,
    })
    assert.deepEqual(await hasher.verifyAndUpgrade(PASSWORD, strong), { valid: true, upgradedHash: null })
  })

  test('a hasher made with higher parameters upgrades hashes made with the defaults', async () => {
    const stronger = createPasswordHasher({
      ...DEFAULT_ARGON2_PARAMETERS,
      timeCost: DEFAULT_ARGON2_PARAMETERS.timeCost + 1,
    })
    const result = await stronger.verifyAndUpgrade(PASSWORD, await hasher.hash(PASSWORD))
    assert.equal(result.valid, true)
    assert.ok(result.upgradedHash)
    assert.equal(phcFields(result.upgradedHash).t, DEFAULT_ARGON2_PARAMETERS.timeCost + 1)
  })

  test('argon2i and argon2d hashes with a wrong password are invalid, never thrown', async () => {
    for (const algorithm of [ARGON2I, ARGON2D]) {
      const stored = await argon2Hash(PASSWORD, { algorithm, ...OWASP })
      assert.deepEqual(await hasher.verifyAndUpgrade(WRONG_PASSWORD, stored), {
        valid: false,
        upgradedHash: null,
      })
    }
  })

  test('argon2i and argon2d hashes are refused even with the correct password (only argon2id and bcrypt are verified)', async () => {
    for (const [name, algorithm] of [
      ['argon2i', ARGON2I],
      ['argon2d', ARGON2D],
    ] as const) {
      const stored = await argon2Hash(PASSWORD, { algorithm, ...OWASP })
      assert.ok(stored.startsWith(`$${name}$`))
      assert.deepEqual(
        await hasher.verifyAndUpgrade(PASSWORD, stored),
        { valid: false, upgradedHash: null },
        name,
      )
    }
  })

  test('a garbage, empty, truncated or corrupted stored hash is invalid and never throws', async () => {
    const current = await hasher.hash(PASSWORD)
    const legacy = await bcrypt.hash(PASSWORD, 4)
    const digestStart = current.lastIndexOf('$') + 1
    const flipped = current[digestStart] === 'A' ? 'B' : 'A'
    const broken = {
      empty: '',
      garbage: 'not-a-hash',
      'plain password': PASSWORD,
      NUL: '\0',
      'argon2id without digest': current.slice(0, digestStart - 1),
      'argon2id truncated digest': current.slice(0, -5),
      'argon2id truncated salt': current.slice(0, current.indexOf('$', 30) + 6),
      'argon2id flipped digest character':
        current.slice(0, digestStart) + flipped + current.slice(digestStart + 1),
      'argon2id bare prefix': '$argon2id$',
      'argon2id unknown version': current.replace('v=19', 'v=99'),
      'argon2id absurd memory': current.replace(/m=\d+/, 'm=99999999999'),
      'bcrypt prefix only': '$2b$04$',
      'bcrypt truncated': legacy.slice(0, 40),
      'bcrypt cost out of range': legacy.replace('$04$', '$99$'),
      'one hundred kilobytes': 'x'.repeat(100_000),
    }
    for (const [label, stored] of Object.entries(broken)) {
      const result = await hasher.verifyAndUpgrade(PASSWORD, stored)
      assert.deepEqual(result, { valid: false, upgradedHash: null }, label)
    }
  })
})

describe('NFKC normalisation', () => {
  const LIGATURE = 'ﬁne-password-1' // U+FB01 LATIN SMALL LIGATURE FI
  const PLAIN = 'fine-password-1'
  const COMPOSED = 'caf\u00e9-password' // é as one code point
  const DECOMPOSED = 'cafe\u0301-password' // e + COMBINING ACUTE ACCENT

  test('the ligature ﬁ and the letters fi verify alike against argon2id, both ways', async () => {
    assert.notEqual(LIGATURE, PLAIN)
    assert.equal((await hasher.verifyAndUpgrade(PLAIN, await hasher.hash(LIGATURE))).valid, true)
    assert.equal((await hasher.verifyAndUpgrade(LIGATURE, await hasher.hash(PLAIN))).valid, true)
  })

  test('composed and decomposed é verify alike against argon2id, both ways', async () => {
    assert.notEqual(COMPOSED, DECOMPOSED)
    assert.equal((await hasher.verifyAndUpgrade(DECOMPOSED, await hasher.hash(COMPOSED))).valid, true)
    assert.equal((await hasher.verifyAndUpgrade(COMPOSED, await hasher.hash(DECOMPOSED))).valid, true)
  })

  test('normalisation merges only equivalent forms: e vs é and letter case still differ', async () => {
    const stored = await hasher.hash(COMPOSED)
    assert.equal((await hasher.verifyAndUpgrade('cafe-password', stored)).valid, false)
    assert.equal((await hasher.verifyAndUpgrade('CAF\u00c9-PASSWORD', stored)).valid, false)
  })

  test('the stored argon2id hash is of the NFKC form (a raw argon2 verify needs the normalised input)', async () => {
    const stored = await hasher.hash(LIGATURE)
    assert.equal(await argon2Verify(stored, PLAIN), true)
    assert.equal(await argon2Verify(stored, LIGATURE), false)
  })

  test('bcrypt legacy hashes are NOT normalised: only the exact form that was hashed verifies', async () => {
    const ligature = await bcrypt.hash(LIGATURE, 4)
    assert.equal((await hasher.verifyAndUpgrade(LIGATURE, ligature)).valid, true)
    assert.deepEqual(await hasher.verifyAndUpgrade(PLAIN, ligature), { valid: false, upgradedHash: null })
    const decomposed = await bcrypt.hash(DECOMPOSED, 4)
    assert.deepEqual(await hasher.verifyAndUpgrade(COMPOSED, decomposed), {
      valid: false,
      upgradedHash: null,
    })
  })

  test('after a bcrypt upgrade both forms verify, since the new argon2id hash is normalised', async () => {
    const decomposed = await bcrypt.hash(DECOMPOSED, 4)
    const { valid, upgradedHash } = await hasher.verifyAndUpgrade(DECOMPOSED, decomposed)
    assert.equal(valid, true)
    assert.ok(upgradedHash)
    assert.equal((await hasher.verifyAndUpgrade(COMPOSED, upgradedHash)).valid, true)
    assert.equal((await hasher.verifyAndUpgrade(DECOMPOSED, upgradedHash)).valid, true)
  })
})

describe('verifyDummy', () => {
  test('resolves false for any password, including the dummy hash’s own password', async () => {
    for (const password of ['', PASSWORD, 'gatehouse-dummy-password', 'x'.repeat(PASSWORD_MAX_LENGTH)]) {
      assert.equal(await hasher.verifyDummy(password), false, JSON.stringify(password.slice(0, 30)))
    }
  })

  test('actually runs argon2: a call takes more than 1 ms (loose bound, not a timing comparison)', async () => {
    const dummyHasher = createPasswordHasher()
    await dummyHasher.verifyDummy(PASSWORD) // the first call also waits for the dummy hash itself
    const durations: number[] = []
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      await dummyHasher.verifyDummy(PASSWORD)
      durations.push(performance.now() - started)
    }
    durations.sort((a, b) => a - b)
    const median = durations[1] ?? 0
    assert.ok(median > 1, `verifyDummy took ${median.toFixed(3)} ms: no argon2 verify ran`)
  })
})

describe('password policy', () => {
  test(`7 characters are refused, 8 accepted (minimum ${PASSWORD_MIN_LENGTH})`, () => {
    assert.equal(passwordPolicyViolation('a'.repeat(7)), TOO_SHORT)
    assert.equal(passwordPolicyViolation('a'.repeat(8)), null)
    assert.equal(passwordPolicyViolation(''), TOO_SHORT)
  })

  test(`1024 characters are accepted, 1025 refused (maximum ${PASSWORD_MAX_LENGTH})`, () => {
    assert.equal(passwordPolicyViolation('a'.repeat(1024)), null)
    assert.equal(passwordPolicyViolation('a'.repeat(1025)), TOO_LONG)
  })

  test('an emoji counts as one character, not two UTF-16 units', () => {
    const emoji = '😀'
    assert.equal(emoji.length, 2)
    assert.equal(passwordPolicyViolation(emoji.repeat(7)), TOO_SHORT) // 14 UTF-16 units
    assert.equal(passwordPolicyViolation(emoji.repeat(8)), null)
    assert.equal(passwordPolicyViolation(emoji.repeat(1024)), null) // 2048 UTF-16 units
    assert.equal(passwordPolicyViolation(emoji.repeat(1025)), TOO_LONG)
  })

  test('length is in code points, not user-perceived characters: a ZWJ family emoji counts 5', () => {
    const family = '👨‍👩‍👧' // man, ZWJ, woman, ZWJ, girl
    assert.equal([...family].length, 5)
    assert.equal(passwordPolicyViolation(family), TOO_SHORT)
    assert.equal(passwordPolicyViolation(family.repeat(2)), null)
  })

  test('a 1 MB password is refused by the length rule, before any hashing', () => {
    assert.equal(passwordPolicyViolation('a'.repeat(1024 * 1024)), TOO_LONG)
    assert.equal(passwordPolicyViolation('😀'.repeat(512 * 1024)), TOO_LONG)
  })

  test('a lone surrogate is refused; a surrogate pair is one well-formed character', () => {
    const MALFORMED = 'Password must be well-formed Unicode text'
    assert.equal(passwordPolicyViolation('pass\ud800word'), MALFORMED)
    assert.equal(passwordPolicyViolation('pass\udfffword'), MALFORMED)
    assert.equal(passwordPolicyViolation('\udc00\ud800-password'), MALFORMED) // pair in the wrong order
    assert.equal(passwordPolicyViolation('pass\ud83d\ude00word'), null)
  })
})

describe('createPasswordPolicy', () => {
  const policyError = (message: string) => ({ code: 'PASSWORD_POLICY', message })

  test('by default: minimum 8, maximum 1024, the same messages as the length rule', () => {
    const policy = createPasswordPolicy()
    assert.equal(policy.minLength, PASSWORD_MIN_LENGTH)
    assert.equal(policy.maxLength, PASSWORD_MAX_LENGTH)
    assert.deepEqual(policy.violation('Xk3-vR9'), policyError(TOO_SHORT))
    assert.equal(policy.violation('Xk3-vR9q'), null)
    assert.equal(policy.violation('Xk3-vR9q'.repeat(128)), null) // 1024
    assert.deepEqual(policy.violation(`${'Xk3-vR9q'.repeat(128)}!`), policyError(TOO_LONG))
    assert.deepEqual(
      policy.violation('pass\ud800word-long'),
      policyError('Password must be well-formed Unicode text'),
    )
  })

  test('minLength 15 (password as the only factor) refuses 14 characters and accepts 15, in code points', () => {
    const policy = createPasswordPolicy({ minLength: 15 })
    assert.equal(policy.minLength, 15)
    const tooShort = policyError('Password must be at least 15 characters')
    assert.deepEqual(policy.violation('Xk3-vR9q-Lm2#Zt'.slice(0, 14)), tooShort)
    assert.equal(policy.violation('Xk3-vR9q-Lm2#Zt'), null)
    assert.deepEqual(policy.violation('😀'.repeat(14)), tooShort) // 28 UTF-16 units
    assert.equal(policy.violation('😀'.repeat(15)), null)
    // The length-only rule of existing callers keeps its own minimum of 8.
    assert.equal(passwordPolicyViolation('Xk3-vR9q'), null)
  })

  test('minLength is checked when the policy is made: an integer from 8 to 1024, else a RangeError naming it', () => {
    for (const minLength of [
      7,
      0,
      -8,
      8.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1025,
      '12' as unknown as number,
    ]) {
      assert.throws(
        () => createPasswordPolicy({ minLength }),
        (error: unknown) => error instanceof RangeError && /minLength/.test(error.message),
        String(minLength),
      )
    }
    assert.equal(createPasswordPolicy({ minLength: 8 }).minLength, 8)
    assert.equal(createPasswordPolicy({ minLength: 1024 }).minLength, 1024)
    assert.equal(createPasswordPolicy({ minLength: 1024 }).violation('Xk3-vR9q'.repeat(128)), null)
  })
})

describe('isVerifiablePassword', () => {
  test('login may hash any well-formed password of 1 to 1024 characters, short or common', () => {
    for (const password of ['a', 'abc123', 'Xk3-vR9', 'password', '😀', 'x'.repeat(PASSWORD_MAX_LENGTH)]) {
      assert.equal(isVerifiablePassword(password), true, JSON.stringify(password.slice(0, 20)))
    }
    assert.equal(isVerifiablePassword('😀'.repeat(PASSWORD_MAX_LENGTH)), true) // 2048 UTF-16 units
  })

  test('the empty, the over-long and the malformed are not hashed', () => {
    assert.equal(isVerifiablePassword(''), false)
    assert.equal(isVerifiablePassword('x'.repeat(PASSWORD_MAX_LENGTH + 1)), false)
    assert.equal(isVerifiablePassword('😀'.repeat(PASSWORD_MAX_LENGTH + 1)), false)
    assert.equal(isVerifiablePassword('a'.repeat(1024 * 1024)), false)
    assert.equal(isVerifiablePassword('\ud800'), false)
    assert.equal(isVerifiablePassword('pass\udfffword'), false)
  })
})

describe('hashing and the event loop', () => {
  test('while 4 hashes run at a time, a 1 ms interval keeps ticking (the hashing is off the main thread)', async () => {
    let ticks = 0
    const interval = setInterval(() => ticks++, 1)
    try {
      // Three rounds of four concurrent hashes: a blocking hash would allow at most a tick or two.
      for (let round = 0; round < 3; round++) {
        const hashes = await Promise.all(Array.from({ length: 4 }, () => hasher.hash(PASSWORD)))
        for (const stored of hashes) phcFields(stored)
      }
    } finally {
      clearInterval(interval)
    }
    assert.ok(ticks >= 5, `only ${ticks} ticks while hashing: the event loop was blocked`)
  })
})
