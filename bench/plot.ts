/**
 * Draws bench/figures.svg from bench/results/*.json (written by the benches): throughput of the
 * authenticated route idle and under a login flood, with and without admission control, and the
 * distribution of cross-instance revocation latency. Plain SVG, no dependency, no network.
 * Usage: npx tsx bench/plot.ts
 */
import { writeFileSync } from 'node:fs'
import { readResult } from './results.ts'

interface LoginFlood {
  idleRps: number
  floodRps: number
  floodRpsIgnoringRetryAfter: number
  floodRpsWithoutAdmission: number
  idleRpsWithoutAdmission: number
}
interface RevocationLatency {
  results: { deployment: string; revocations: number; revokeToUnauthorizedMs: { p50: number; p99: number } }[]
}

const WIDTH = 900
const HEIGHT = 380
const escapeXml = (text: string) => text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)
const text = (x: number, y: number, body: string, extra = '') =>
  `<text x="${x}" y="${y}" ${extra}>${escapeXml(body)}</text>`

function throughputPanel(data: LoginFlood | null, x0: number): string {
  const parts = [text(x0, 30, 'GET /protected-route, share of idle throughput', 'font-weight="bold"')]
  if (!data) return parts.concat(text(x0, 60, 'not measured: run bench/login-flood.ts')).join('')
  const bars = [
    { label: 'idle', value: 1, color: '#888' },
    {
      label: 'flood, no admission',
      value: data.floodRpsWithoutAdmission / data.idleRpsWithoutAdmission,
      color: '#c44',
    },
    { label: 'admission, Retry-After kept', value: data.floodRps / data.idleRps, color: '#2a7' },
    {
      label: 'admission, Retry-After ignored',
      value: data.floodRpsIgnoringRetryAfter / data.idleRps,
      color: '#da3',
    },
  ]
  const top = 60
  const height = 240
  const barWidth = 70
  // The issue's floor: under a flood the route keeps at least half its idle throughput.
  const floorY = top + height * 0.5
  parts.push(
    `<line x1="${x0}" x2="${x0 + 380}" y1="${floorY}" y2="${floorY}" stroke="#333" stroke-dasharray="4 4"/>`,
  )
  parts.push(text(x0 + 330, floorY - 4, '0.50', 'font-size="11"'))
  bars.forEach((bar, i) => {
    const h = Math.min(1, bar.value) * height
    const x = x0 + 10 + i * (barWidth + 25)
    parts.push(
      `<rect x="${x}" y="${top + height - h}" width="${barWidth}" height="${h}" fill="${bar.color}"/>`,
    )
    parts.push(text(x, top + height - h - 6, bar.value.toFixed(2), 'font-size="12"'))
    for (const [line, words] of splitLabel(bar.label).entries()) {
      parts.push(text(x, top + height + 16 + line * 13, words, 'font-size="10"'))
    }
  })
  return parts.join('')
}

/** Two lines at most under a bar. */
function splitLabel(label: string): string[] {
  const [first, ...rest] = label.split(', ')
  return rest.length ? [`${first},`, rest.join(', ')] : [label]
}

function latencyPanel(data: RevocationLatency | null, x0: number): string {
  const parts = [text(x0, 30, 'Revocation on A → 401 on B (ms, p50 and p99)', 'font-weight="bold"')]
  if (!data) return parts.concat(text(x0, 60, 'not measured: run bench/revocation-latency.ts')).join('')
  const top = 60
  const height = 240
  const maxMs = Math.max(1, ...data.results.map((r) => r.revokeToUnauthorizedMs.p99))
  const barWidth = 40
  data.results.forEach((result, i) => {
    const x = x0 + 10 + i * 130
    const bars = [
      { value: result.revokeToUnauthorizedMs.p50, color: '#36c', label: 'p50' },
      { value: result.revokeToUnauthorizedMs.p99, color: '#d62', label: 'p99' },
    ]
    bars.forEach((bar, k) => {
      const h = (bar.value / maxMs) * height
      const bx = x + k * (barWidth + 4)
      parts.push(
        `<rect x="${bx}" y="${top + height - h}" width="${barWidth}" height="${h}" fill="${bar.color}"/>`,
      )
      parts.push(text(bx, top + height - h - 6, bar.value.toFixed(0), 'font-size="11"'))
    })
    for (const [line, words] of result.deployment.split('-').entries()) {
      parts.push(text(x, top + height + 16 + line * 13, words, 'font-size="10"'))
    }
  })
  parts.push(text(x0, top + height + 62, 'blue: p50, orange: p99', 'font-size="11"'))
  return parts.join('')
}

const flood = readResult<LoginFlood>('login-flood')
const revocation = readResult<RevocationLatency>('revocation-latency')
const sources = [flood, revocation]
  .filter((result) => result !== null)
  .map((result) => `${result?.measuredAt.slice(0, 10)} @ ${result?.commit}`)
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="13">`,
  '<title>Gatehouse: throughput under a login flood, and revocation latency across instances</title>',
  `<rect width="100%" height="100%" fill="#fff"/>`,
  throughputPanel(flood, 20),
  latencyPanel(revocation, 480),
  text(
    20,
    HEIGHT - 12,
    `measured ${sources.join(', ') || 'never'}; 2-core machine, loopback`,
    'font-size="11" fill="#666"',
  ),
  '</svg>',
].join('\n')
writeFileSync(new URL('./figures.svg', import.meta.url), `${svg}\n`)
console.log('wrote bench/figures.svg')
