#!/usr/bin/env node
// Keeps docs/asvs.md honest: every "met" row must cite a test that exists, by the exact title
// given to it()/test()/describe(); every requirement of levels 1 and 2 must have a row.
// Usage: node scripts/check-asvs.mjs [--matrix <file>] [--root <dir>]
//   --root   the repository whose test files are cited (default: this script's repository)
//   --matrix the matrix to check (default: <root>/docs/asvs.md)
// Exit 0 with a one-line summary, or 1 with one line per problem. No dependencies.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { isAbsolute, join, normalize, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// OWASP ASVS 5.0.0 (tag v5.0.0_release, 5.0/en/0x12, 0x15, 0x16): every requirement id of the
// three chapters with its level. Levels 1 and 2 must have a row; a level-3 row is optional.
const REQUIREMENTS = {
  V3: {
    title: 'Web Frontend Security',
    levels: {
      '3.1.1': 3,
      '3.2.1': 1,
      '3.2.2': 1,
      '3.2.3': 3,
      '3.3.1': 1,
      '3.3.2': 2,
      '3.3.3': 2,
      '3.3.4': 2,
      '3.3.5': 3,
      '3.4.1': 1,
      '3.4.2': 1,
      '3.4.3': 2,
      '3.4.4': 2,
      '3.4.5': 2,
      '3.4.6': 2,
      '3.4.7': 3,
      '3.4.8': 3,
      '3.5.1': 1,
      '3.5.2': 1,
      '3.5.3': 1,
      '3.5.4': 2,
      '3.5.5': 2,
      '3.5.6': 3,
      '3.5.7': 3,
      '3.5.8': 3,
      '3.6.1': 3,
      '3.7.1': 2,
      '3.7.2': 2,
      '3.7.3': 3,
      '3.7.4': 3,
      '3.7.5': 3,
    },
  },
  V6: {
    title: 'Authentication',
    levels: {
      '6.1.1': 1,
      '6.1.2': 2,
      '6.1.3': 2,
      '6.2.1': 1,
      '6.2.2': 1,
      '6.2.3': 1,
      '6.2.4': 1,
      '6.2.5': 1,
      '6.2.6': 1,
      '6.2.7': 1,
      '6.2.8': 1,
      '6.2.9': 2,
      '6.2.10': 2,
      '6.2.11': 2,
      '6.2.12': 2,
      '6.3.1': 1,
      '6.3.2': 1,
      '6.3.3': 2,
      '6.3.4': 2,
      '6.3.5': 3,
      '6.3.6': 3,
      '6.3.7': 3,
      '6.3.8': 3,
      '6.4.1': 1,
      '6.4.2': 1,
      '6.4.3': 2,
      '6.4.4': 2,
      '6.4.5': 3,
      '6.4.6': 3,
      '6.5.1': 2,
      '6.5.2': 2,
      '6.5.3': 2,
      '6.5.4': 2,
      '6.5.5': 2,
      '6.5.6': 3,
      '6.5.7': 3,
      '6.5.8': 3,
      '6.6.1': 2,
      '6.6.2': 2,
      '6.6.3': 2,
      '6.6.4': 3,
      '6.7.1': 3,
      '6.7.2': 3,
      '6.8.1': 2,
      '6.8.2': 2,
      '6.8.3': 2,
      '6.8.4': 2,
    },
  },
  V7: {
    title: 'Session Management',
    levels: {
      '7.1.1': 2,
      '7.1.2': 2,
      '7.1.3': 2,
      '7.2.1': 1,
      '7.2.2': 1,
      '7.2.3': 1,
      '7.2.4': 1,
      '7.3.1': 2,
      '7.3.2': 2,
      '7.4.1': 1,
      '7.4.2': 1,
      '7.4.3': 2,
      '7.4.4': 2,
      '7.4.5': 2,
      '7.5.1': 2,
      '7.5.2': 2,
      '7.5.3': 3,
      '7.6.1': 2,
      '7.6.2': 2,
    },
  },
}

const STATUSES = new Map([
  ['met', 'met'],
  ['not applicable', 'na'],
  ['not met', 'notMet'],
  ['not met (untested)', 'notMet'],
  ['not met (pending)', 'notMet'],
])
const HEADER = ['id', 'level', 'requirement', 'status', 'evidence']
const ID_SHAPE = /^V(\d+)\.(\d+)\.(\d+)$/

function parseArgs(argv) {
  const options = { root: fileURLToPath(new URL('..', import.meta.url)), matrix: null }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    if ((flag === '--root' || flag === '--matrix') && i + 1 < argv.length) {
      options[flag.slice(2)] = resolve(argv[++i])
    } else {
      console.error(`usage: check-asvs.mjs [--matrix <file>] [--root <dir>] (unknown argument ${flag})`)
      process.exit(2)
    }
  }
  options.matrix ??= join(options.root, 'docs', 'asvs.md')
  return options
}

/** Splits a Markdown table row on the pipes that are neither escaped nor inside a code span. */
function splitRow(line) {
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '')
  const cells = []
  let cell = ''
  for (let i = 0; i < body.length; i++) {
    const char = body[i]
    if (char === '\\' && body[i + 1] === '|') {
      cell += '|'
      i++
    } else if (char === '`') {
      const run = body.slice(i).match(/^`+/)[0]
      const close = findClosingRun(body, i + run.length, run.length)
      const end = close === -1 ? i + run.length : close + run.length
      cell += body.slice(i, end).replaceAll('\\|', '|')
      i = end - 1
    } else if (char === '|') {
      cells.push(cell.trim())
      cell = ''
    } else {
      cell += char
    }
  }
  cells.push(cell.trim())
  return cells
}

/** Index of the next run of exactly `length` backticks at or after `from`, or -1 (CommonMark). */
function findClosingRun(text, from, length) {
  for (let i = from; i < text.length; i++) {
    if (text[i] !== '`') continue
    let j = i
    while (text[j] === '`') j++
    if (j - i === length) return i
    i = j - 1
  }
  return -1
}

/** The code spans of a cell, in order, with CommonMark's one-space stripping. */
function codeSpans(cell) {
  const spans = []
  for (let i = 0; i < cell.length; i++) {
    if (cell[i] !== '`') continue
    let j = i
    while (cell[j] === '`') j++
    const close = findClosingRun(cell, j, j - i)
    if (close === -1) {
      i = j - 1
      continue
    }
    let content = cell.slice(j, close)
    if (content.length > 1 && content.startsWith(' ') && content.endsWith(' ') && content.trim() !== '') {
      content = content.slice(1, -1)
    }
    spans.push({ start: i, end: close + (j - i), content })
    i = close + (j - i) - 1
  }
  return spans
}

/** Citations `path` › `title`: a code span naming a test file, the separator, a code span. */
function citations(cell) {
  const spans = codeSpans(cell)
  const found = []
  for (let k = 0; k < spans.length; k++) {
    const file = spans[k]
    if (!/\.test\.[cm]?[jt]s$/.test(file.content)) continue
    const next = spans[k + 1]
    const between = next ? cell.slice(file.end, next.start).trim() : ''
    if (!next || between !== '›') {
      found.push({ file: file.content, title: null })
      continue
    }
    found.push({ file: file.content, title: next.content })
    k++
  }
  return found
}

/** The matrix: its chapter headings (## V3 …) and the rows of the table under each. */
function parseMatrix(text) {
  const rows = []
  const problems = []
  const chapters = new Set()
  let chapter = null
  let header = null
  text.split('\n').forEach((line, index) => {
    const heading = line.match(/^##\s+(V\d+)\b/)
    if (heading) {
      chapter = heading[1]
      chapters.add(chapter)
      header = null
      return
    }
    if (/^#{1,2}\s/.test(line)) {
      chapter = null
      header = null
      return
    }
    if (!chapter || !line.trim().startsWith('|')) {
      if (!line.trim().startsWith('|')) header = null
      return
    }
    const cells = splitRow(line)
    if (!header) {
      header = cells.map((c) => c.toLowerCase())
      if (header.join('|') !== HEADER.join('|')) {
        problems.push(`line ${index + 1}: the ${chapter} table must have the columns ${HEADER.join(' | ')}`)
      }
      return
    }
    if (cells.every((c) => /^:?-+:?$/.test(c))) return
    rows.push({ chapter, line: index + 1, cells })
  })
  return { rows, problems, chapters }
}

function unescapeJs(body) {
  return body.replace(
    /\\(u\{([0-9a-fA-F]+)\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|\r?\n|[\s\S])/g,
    (_, all, codePoint, unit, byte) => {
      if (codePoint) return String.fromCodePoint(Number.parseInt(codePoint, 16))
      if (unit) return String.fromCharCode(Number.parseInt(unit, 16))
      if (byte) return String.fromCharCode(Number.parseInt(byte, 16))
      if (all === '\n' || all === '\r\n') return ''
      return { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', 0: '\0' }[all] ?? all
    },
  )
}

/**
 * The string literal starting at `start` ('…', "…" or `…`), decoded, or null. A template's
 * `${…}` parts are kept as written, so a title built in a loop is cited as its source reads.
 */
function readLiteral(src, start) {
  const quote = src[start]
  if (quote !== "'" && quote !== '"' && quote !== '`') return null
  let i = start + 1
  let out = ''
  let raw = ''
  while (i < src.length) {
    const char = src[i]
    if (char === '\\') {
      raw += src.slice(i, i + 2)
      i += 2
      continue
    }
    if (char === quote) {
      return out + unescapeJs(raw)
    }
    if (quote !== '`' && char === '\n') return null
    if (quote === '`' && char === '$' && src[i + 1] === '{') {
      let depth = 0
      let j = i + 1
      for (; j < src.length; j++) {
        if (src[j] === '{') depth++
        else if (src[j] === '}' && --depth === 0) break
      }
      out += unescapeJs(raw) + src.slice(i, j + 1)
      raw = ''
      i = j + 1
      continue
    }
    raw += char
    i++
  }
  return null
}

const titleCache = new Map()

/** Every title passed as the first argument of it/test/describe/suite (and t.test) in a file. */
function testTitles(path) {
  if (titleCache.has(path)) return titleCache.get(path)
  const src = readFileSync(path, 'utf8')
  const titles = new Set()
  const call = /(?<![\w$.])(?:(?:it|test|describe|suite)(?:\.(?:skip|only|todo))?|t\.test)\s*\(\s*/g
  for (const match of src.matchAll(call)) {
    const lineStart = src.lastIndexOf('\n', match.index) + 1
    const before = src.slice(lineStart, match.index).trim()
    if (before.startsWith('//') || before.startsWith('*') || before.startsWith('/*')) continue
    const title = readLiteral(src, match.index + match[0].length)
    if (title !== null) titles.add(title)
  }
  titleCache.set(path, titles)
  return titles
}

function check({ root, matrix }) {
  if (!existsSync(matrix)) return { problems: [`${matrix}: no such file`], summary: null }
  const { rows, problems, chapters } = parseMatrix(readFileSync(matrix, 'utf8'))
  const seen = new Map()
  const counts = {}
  let cited = 0
  for (const name of Object.keys(REQUIREMENTS)) {
    counts[name] = { met: 0, na: 0, notMet: 0 }
    if (!chapters.has(name)) problems.push(`${name}: no "## ${name} ${REQUIREMENTS[name].title}" section`)
  }

  for (const { chapter, line, cells } of rows) {
    const id = cells[0] ?? ''
    const where = ID_SHAPE.test(id) ? id : `line ${line} (${JSON.stringify(id)})`
    if (cells.length !== HEADER.length) {
      problems.push(`${where}: ${cells.length} cells, expected ${HEADER.length}`)
      continue
    }
    const [, level, requirement, status, evidence] = cells
    const shape = id.match(ID_SHAPE)
    if (!shape) {
      problems.push(`${where}: the id must look like V6.2.1`)
      continue
    }
    if (`V${shape[1]}` !== chapter) problems.push(`${id}: listed under ${chapter}`)
    if (seen.has(id)) problems.push(`${id}: duplicated (lines ${seen.get(id)} and ${line})`)
    else seen.set(id, line)
    const known = REQUIREMENTS[`V${shape[1]}`]?.levels[id.slice(1)]
    if (known === undefined) problems.push(`${id}: not a requirement of ASVS 5.0.0 chapters V3, V6 or V7`)
    else if (level !== String(known))
      problems.push(`${id}: level ${JSON.stringify(level)}, ASVS says ${known}`)
    if (!requirement) problems.push(`${id}: no requirement text`)
    const kind = STATUSES.get(status)
    if (!kind) {
      problems.push(
        `${id}: status ${JSON.stringify(status)} is not one of ${[...STATUSES.keys()].join(', ')}`,
      )
    } else if (counts[chapter]) {
      counts[chapter][kind]++
    }

    const cites = citations(evidence)
    if (kind === 'met' && !cites.some((c) => c.title !== null)) {
      problems.push(`${id}: "met" needs at least one \`test/…test.ts\` › \`test name\` citation`)
    }
    if (kind && kind !== 'met' && evidence.replace(/[`*_\s]/g, '').length < 10) {
      problems.push(`${id}: "${status}" needs a reason in the evidence column`)
    }
    for (const { file, title } of cites) {
      if (title === null) {
        problems.push(`${id}: ${file} is cited without › \`test name\``)
        continue
      }
      cited++
      const path = normalize(file)
      if (isAbsolute(path) || path.startsWith('..')) {
        problems.push(`${id}: ${file} must be a path inside the repository`)
        continue
      }
      const full = join(root, path)
      if (!existsSync(full) || !statSync(full).isFile()) {
        problems.push(`${id}: cited test file ${file} does not exist`)
        continue
      }
      if (!testTitles(full).has(title)) {
        problems.push(`${id}: ${file} has no test titled ${JSON.stringify(title)}`)
      }
    }
  }

  for (const [name, { levels }] of Object.entries(REQUIREMENTS)) {
    for (const [number, level] of Object.entries(levels)) {
      if (level <= 2 && !seen.has(`V${number}`)) {
        problems.push(`V${number}: level-${level} requirement of ${name} has no row`)
      }
    }
  }

  const summary = Object.entries(counts)
    .map(([name, c]) => `${name} met ${c.met}, n/a ${c.na}, not met ${c.notMet}`)
    .join(' · ')
  return {
    problems,
    summary: `ASVS 5.0 matrix: ${summary} (${seen.size} rows, ${cited} test citations checked)`,
  }
}

const { problems, summary } = check(parseArgs(process.argv.slice(2)))
if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  console.error(`${problems.length} problem${problems.length === 1 ? '' : 's'} in the ASVS matrix`)
  process.exit(1)
}
console.log(summary)
