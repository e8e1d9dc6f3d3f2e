/**
 * The common-password blocklist: ASVS 5.0 V6.2.4 asks that a new password be checked against at
 * least the 3,000 most common passwords; NIST SP 800-63B-4 §3.1.1.2 says the check SHALL be made.
 *
 * Source: the `passwords-common` list of @zxcvbn-ts/language-common (MIT, © Dropbox and zxcvbn-ts),
 * 49,233 entries in 4.1.3. zxcvbn-ts builds it from Mark Burnett's 2015 release of ten million
 * leaked passwords (xato.net): lower-cased, ASCII only, seen more than ten times, ordered by
 * frequency. It is the package's own export that is read, not a copy, so an upgrade of the package
 * upgrades the list and the licence notice travels with it.
 *
 * Its build drops a password that zxcvbn's pattern matchers (repeats, sequences, dates) would guess
 * sooner than its rank, as zxcvbn scores those patterns itself: `aaaaaaaa`, `abcdefgh`, `00000000`
 * and `87654321` are not in it, while `11111111`, `12345678` and `qwertyuiop` are.
 *
 * The package is CommonJS with no `exports` map, and its entry point decompresses every list it
 * holds when it is loaded (about 20 ms and a few MB). It is therefore required on the first check,
 * not imported: importing the core costs nothing until a password is checked, and a synchronous
 * require works alike under tsx and in the compiled build.
 *
 * Every entry is kept, including those shorter than any allowed minimum (most of the list): they
 * can never match a password that passed the length rule, they cost little memory, and keeping them
 * makes the one set right for every policy whatever its minimum.
 */
import { createRequire } from 'node:module'
import type * as CommonLanguage from '@zxcvbn-ts/language-common'
import { normalizePassword } from './policy.ts'

let commonPasswords: ReadonlySet<string> | undefined

/** The form both sides are compared in: the hashing normalisation (NFKC), then lower case. */
export function blocklistKey(password: string): string {
  return normalizePassword(password).toLowerCase()
}

/** The blocklist, built on first use and shared from then on (one O(1) lookup per check). */
export function commonPasswordSet(): ReadonlySet<string> {
  if (commonPasswords === undefined) {
    const require = createRequire(import.meta.url)
    const { dictionary } = require('@zxcvbn-ts/language-common') as typeof CommonLanguage
    commonPasswords = new Set(dictionary['passwords-common'].map(blocklistKey))
  }
  return commonPasswords
}

/** True when the password, normalised and lower-cased, is on the common-password list. */
export function isCommonPassword(password: string): boolean {
  return commonPasswordSet().has(blocklistKey(password))
}
