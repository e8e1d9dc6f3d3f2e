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
  floodRpsWithoutAdmission: number
  idleRpsWithoutAdmission: number
}
interface Latencies {
  p50Ms: number
  p99Ms: number
  samplesMs: number[]
}
type RevocationLatency = Partial<Record<'postgres' | 'redis', Latencies>>

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
    { label: 'flood, admission on', value: data.floodRps / data.idleRps, color: '#2a7' },
  ]
  const top = 60
  const height = 240
  const barWidth = 90
  // The issue's floor: under a flood the route keeps at least half its idle throughput.
  const floorY = top + height * 0.5
  parts.push(
    `<line x1="${x0}" x2="${x0 + 380}" y1="${floorY}" y2="${floorY}" stroke="#333" stroke-dasharray="4 4"/>`,
  )
  parts.push(text(x0 + 330, floorY - 4, '0.50', 'font-size="11"'))
  bars.forEach((bar, i) => {
    const h = Math.min(1, bar.value) * height
    const x = x0 + 20 + i * (barWidth + 30)
    parts.push(
      `<rect x="${x}" y="${top + height - h}" width="${barWidth}" height="${h}" fill="${bar.color}"/>`,
    )
    parts.push(text(x, top + height - h - 6, bar.value.toFixed(2), 'font-size="12"'))
    parts.push(text(x, top + height + 18, bar.label, 'font-size="11"'))
  })
  return parts.join('')
}

function latencyPanel(data: RevocationLatency | null, x0: number): string {
  const parts = [text(x0, 30, 'Revocation on A → 401 on B (CDF)', 'font-weight="bold"')]
  if (!data) return parts.concat(text(x0, 60, 'not measured: run bench/revocation-latency.ts')).join('')
  const top = 60
  const height = 240
  const width = 360
  const channels = (['postgres', 'redis'] as const).filter((name) => data[name])
  const maxMs = Math.max(1, ...channels.flatMap((name) => data[name]?.samplesMs ?? []))
  const colors = { postgres: '#36c', redis: '#d62' }
  parts.push(`<line x1="${x0}" x2="${x0 + width}" y1="${top + height}" y2="${top + height}" stroke="#333"/>`)
  parts.push(text(x0, top + height + 18, '0 ms', 'font-size="11"'))
  parts.push(text(x0 + width - 40, top + height + 18, `${maxMs.toFixed(0)} ms`, 'font-size="11"'))
  channels.forEach((name, i) => {
    const samples = [...(data[name]?.samplesMs ?? [])].sort((a, b) => a - b)
    const points = samples.map((ms, k) => {
      const x = x0 + (ms / maxMs) * width
      const y = top + height - ((k + 1) / samples.length) * height
      return `${x.toFixed(1)},${y.toFixed(1)}`
    })
    parts.push(
      `<polyline fill="none" stroke="${colors[name]}" stroke-width="2" points="${points.join(' ')}"/>`,
    )
    const summary = data[name] as Latencies
    parts.push(
      text(
        x0 + 10,
        top + 20 + i * 18,
        `${name}: p50 ${summary.p50Ms.toFixed(1)} ms, p99 ${summary.p99Ms.toFixed(1)} ms (n=${samples.length})`,
        `font-size="12" fill="${colors[name]}"`,
      ),
    )
  })
  return parts.join('')
}

const flood = readResult<LoginFlood>('login-flood')
const revocation = readResult<RevocationLatency>('revocation-latency')
const sources = [flood, revocation]
  .filter((result) => result !== null)
  .map((result) => `${result?.measuredAt.slice(0, 10)} @ ${result?.commit}`)
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="13">`,
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
