/**
 * docs/asvs.md stays true: the checker passes on the real matrix and catches each way it can go
 * stale (a renamed or deleted test, a dropped row, a duplicate, a made-up status), and the
 * documentation two "met" rows rely on (V6.1.1, V7.1.1) still says what the rows claim.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHECKER = join(ROOT, 'scripts', 'check-asvs.mjs')
const MATRIX = readFileSync(join(ROOT, 'docs', 'asvs.md'), 'utf8')
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-asvs-'))
after(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

let copies = 0
function check(matrix: string, root = ROOT): Run {
  const file = join(dir, `matrix-${++copies}.md`)
  writeFileSync(file, matrix)
  const result = spawnSync(process.execPath, [CHECKER, '--matrix', file, '--root', root], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** The matrix with `from` replaced by `to`, failing loudly if `from` is not in it. */
function edited(from: string, to: string, matrix = MATRIX): string {
  assert.ok(matrix.includes(from), `the matrix no longer contains ${JSON.stringify(from)}`)
  return matrix.replace(from, to)
}

function rowOf(id: string, matrix = MATRIX): string {
  const row = matrix.split('\n').find((line) => line.startsWith(`| ${id} |`))
  assert.ok(row, `no row ${id}`)
  return row
}

function assertRefused(run: Run, ...expected: RegExp[]): void {
  assert.equal(run.code, 1, `exit ${run.code}\n${run.stdout}${run.stderr}`)
  assert.equal(run.stdout, '', 'no summary when the matrix is refused')
  for (const pattern of expected) assert.match(run.stderr, pattern)
}

describe('the ASVS matrix checker', () => {
  it('passes the real docs/asvs.md with a one-line summary per chapter', () => {
    const run = spawnSync(process.execPath, [CHECKER], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stderr, '')
    assert.match(
      run.stdout,
      /^ASVS 5\.0 matrix: V3 met \d+, n\/a \d+, not met \d+ · V6 met \d+, n\/a \d+, not met \d+ · V7 met \d+, n\/a \d+, not met \d+ \(\d+ rows, \d+ test citations checked\)\n$/,
    )
  })

  it('refuses a cited test name that no test has, naming the row and the title', () => {
    const title = 'changes the password: 204; the new one logs in, the old one no longer does'
    const renamed = check(edited(`\`${title}\``, '`changes the password and says so`'))
    assertRefused(
      renamed,
      /^V6\.2\.2: test\/server\/change-password\.test\.ts has no test titled "changes the password and says so"$/m,
    )
    // A prefix of a real title is not that title.
    assertRefused(
      check(edited(`\`${title}\``, '`changes the password: 204`')),
      /^V6\.2\.2: .* has no test titled/m,
    )
  })

  it('refuses a cited test file that does not exist', () => {
    const run = check(
      edited(
        '`test/server/change-password.test.ts` › `changes the password',
        '`test/server/password-change.test.ts` › `changes the password',
      ),
    )
    assertRefused(run, /^V6\.2\.2: cited test file test\/server\/password-change\.test\.ts does not exist$/m)
  })

  it('refuses a matrix that lost the row of a level-1 or level-2 requirement', () => {
    const withoutRows = edited(`${rowOf('V7.4.3')}\n`, '', edited(`${rowOf('V6.2.1')}\n`, ''))
    assertRefused(
      check(withoutRows),
      /^V6\.2\.1: level-1 requirement of V6 has no row$/m,
      /^V7\.4\.3: level-2 requirement of V7 has no row$/m,
    )
  })

  it('refuses a duplicated id, and an id in the wrong chapter or at the wrong level', () => {
    const row = rowOf('V7.2.3')
    assertRefused(check(edited(row, `${row}\n${row}`)), /^V7\.2\.3: duplicated \(lines \d+ and \d+\)$/m)
    assertRefused(
      check(edited(rowOf('V3.4.4'), rowOf('V3.4.4').replace('| 2 |', '| 1 |'))),
      /^V3\.4\.4: level "1", ASVS says 2$/m,
    )
    const moved = edited(
      `${rowOf('V6.3.2')}\n`,
      '',
      edited(rowOf('V7.2.3'), `${rowOf('V7.2.3')}\n${rowOf('V6.3.2')}`),
    )
    assertRefused(check(moved), /^V6\.3\.2: listed under V7$/m)
    assertRefused(
      check(edited('| V7.2.3 |', '| V7.2 |')),
      /^line \d+ \("V7\.2"\): the id must look like V6\.2\.1$/m,
    )
    assertRefused(check(edited('| V7.2.3 |', '| V7.2.9 |')), /^V7\.2\.9: not a requirement of ASVS 5\.0\.0/m)
  })

  it('refuses a status outside met / not applicable / not met', () => {
    const row = rowOf('V3.4.4')
    assertRefused(
      check(edited(row, row.replace('| met |', '| mostly met |'))),
      /^V3\.4\.4: status "mostly met" is not one of met, not applicable, not met/m,
    )
    assertRefused(check(edited(row, row.replace('| met |', '| |'))), /^V3\.4\.4: status "" is not one of/m)
  })

  it('refuses "met" without a test citation, and "not met" or "not applicable" without a reason', () => {
    const met = rowOf('V6.2.2')
    assertRefused(
      check(edited(met, '| V6.2.2 | 1 | Users can change their password | met | the route exists |')),
      /^V6\.2\.2: "met" needs at least one/m,
    )
    assertRefused(
      check(
        edited(rowOf('V6.8.3'), '| V6.8.3 | 2 | SAML assertions are processed once | not applicable | |'),
      ),
      /^V6\.8\.3: "not applicable" needs a reason/m,
    )
  })

  it('refuses a matrix without one of the three chapters', () => {
    const start = MATRIX.indexOf('## V7 Session Management')
    const end = MATRIX.indexOf('## Level 3')
    assert.ok(start > 0 && end > start)
    const run = check(MATRIX.slice(0, start) + MATRIX.slice(end))
    assertRefused(run, /^V7: no "## V7 Session Management" section$/m, /^V7\.2\.1: level-1 requirement/m)
  })
})

describe('the checker reads test titles as JavaScript string literals', () => {
  let root: string
  before(() => {
    // A copy of the repository's tests plus one file whose titles are written every way.
    root = join(dir, 'root')
    mkdirSync(root)
    cpSync(join(ROOT, 'test'), join(root, 'test'), { recursive: true })
    writeFileSync(
      join(root, 'test', 'quoting.test.ts'),
      [
        "import { describe, it, test } from 'node:test'",
        "describe('outer', () => {",
        "  it('it\\'s single-quoted', () => {})",
        '  it("a \\"double\\" quote and a \' inside", () => {})',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture's source holds a template literal.
        '  test(`a ${name} template`, () => {})',
        "  it.skip('a tab\\there, a backslash \\\\ and caf\\u00e9', () => {})",
        '  it(',
        "    'on the line after the call',",
        '    () => {},',
        '  )',
        "  // it('only in a comment', () => {})",
        "  assert.equal(value, 'only an assertion argument')",
        '})',
        '',
      ].join('\n'),
    )
  })

  const cases: Array<[string, boolean]> = [
    ['outer', true],
    ["it's single-quoted", true],
    ['a "double" quote and a \' inside', true],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the cited title is the template as written.
    ['a ${name} template', true],
    ['a tab\there, a backslash \\ and café', true],
    ['on the line after the call', true],
    ["it\\'s single-quoted", false],
    ['a tab\\there, a backslash \\\\ and caf\\u00e9', false],
    ['only in a comment', false],
    ['only an assertion argument', false],
  ]
  for (const [title, exists] of cases) {
    it(`${exists ? 'finds' : 'does not find'} ${JSON.stringify(title)}`, () => {
      const row = rowOf('V6.2.2')
      const span = title.includes('`') ? `\`\` ${title} \`\`` : `\`${title}\``
      const cited = row.replace(/ \|$/, `; \`test/quoting.test.ts\` › ${span} |`)
      const run = check(edited(row, cited), root)
      if (exists) assert.equal(run.code, 0, run.stderr)
      else assertRefused(run, /^V6\.2\.2: test\/quoting\.test\.ts has no test titled /m)
    })
  }
})

describe('the documentation the matrix relies on', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const security = readFileSync(join(ROOT, 'SECURITY.md'), 'utf8')
  const passwords = readFileSync(join(ROOT, 'docs', 'passwords-and-tokens.md'), 'utf8')

  it('V6.1.1: the brute-force limits, their settings and the lock-out trade-off are documented', () => {
    for (const setting of [
      'LOGIN_MAX_FAILURES_PER_ACCOUNT',
      'LOGIN_MAX_FAILURES_PER_IP',
      'LOGIN_IP_WINDOW_SECONDS',
      'LOGIN_BLOCK_SECONDS',
      'TRUST_PROXY',
    ]) {
      assert.ok(readme.includes(`| \`${setting}\` |`), `${setting} is in the README configuration table`)
      assert.ok(passwords.includes(setting), `${setting} is in docs/passwords-and-tokens.md`)
    }
    assert.match(passwords, /## Brute-force protection/)
    // The price of per-account limits (malicious lock-out) is stated, with its bound.
    assert.match(readme, /a stranger can keep an account locked, `LOGIN_BLOCK_SECONDS` at a time/)
    assert.match(passwords, /Unknown emails are counted and\s+blocked exactly like known ones/)
    assert.match(security, /### Availability/)
  })

  it('V6.1.3: every authentication pathway is documented with its controls and strength', () => {
    assert.match(security, /### Authentication pathways \(ASVS 5\.0 V6\.1\.3\)/)
    for (const pathway of [
      '`POST /token`',
      '`POST /login`',
      'bearer token `gth_',
      'session cookie `gth_',
      'personal API key `ghk_',
      'reset link `gthr_',
      'verification link `gthv_',
    ]) {
      assert.ok(security.includes(`| ${pathway}`), `${pathway} has a row`)
    }
  })

  it('V7.1.2: the number of concurrent sessions allowed, and what happens, is documented', () => {
    const sessions = readFileSync(join(ROOT, 'docs', 'sessions.md'), 'utf8')
    assert.match(
      sessions,
      /There is no limit on how many sessions a user may\s+hold at once \(ASVS 5\.0 V7\.1\.2\)/,
    )
  })

  it('V7.1.1: the idle timeout and the absolute lifetime are documented with their NIST SP 800-63B-4 basis', () => {
    assert.match(
      security,
      /Tokens and sessions end after 1 hour without use \(`ACCESS_TOKEN_IDLE_SECONDS`; NIST SP 800-63B-4\s+AAL2\) and 24 hours after issue/,
    )
    assert.match(
      readme,
      /\| `ACCESS_TOKEN_TTL_SECONDS` \| `86400` \| absolute lifetime of tokens and sessions \|/,
    )
    assert.match(
      readme,
      /\| `ACCESS_TOKEN_IDLE_SECONDS` \| `3600` \| refuse a token or session unused this long \(NIST/,
    )
  })
})
