/**
 * A User-Agent header reduced to what a person recognises in a sessions list ("Firefox 128 on
 * Linux"). The raw header is attacker-chosen and long; only this summary, of printable ASCII and
 * at most 100 characters, is stored or shown.
 */
const BROWSERS: [name: string, pattern: RegExp][] = [
  ['Edge', /\bEdg(?:e|A|iOS)?\/(\d+)/],
  ['Opera', /\bOPR\/(\d+)/],
  ['Firefox', /\b(?:Firefox|FxiOS)\/(\d+)/],
  ['Chrome', /\b(?:Chrome|CriOS|HeadlessChrome)\/(\d+)/],
  ['Safari', /\bVersion\/(\d{1,10})[^ ]{0,20} (?:Mobile\/\S{1,20} )?Safari\//],
  ['curl', /^curl\/(\d+)/],
]
const SYSTEMS: [name: string, pattern: RegExp][] = [
  ['Android', /\bAndroid\b/],
  ['iOS', /\b(?:iPhone|iPad|iPod)\b/],
  ['Windows', /\bWindows\b/],
  ['macOS', /\bMac OS X\b|\bMacintosh\b/],
  ['ChromeOS', /\bCrOS\b/],
  ['Linux', /\bLinux\b/],
]
const MAX_LENGTH = 100
/** Real user agents fit in this; the patterns never scan more of an attacker's header (ReDoS). */
const MAX_SCANNED = 512

export function summarizeUserAgent(raw: string | null | undefined): string | null {
  if (!raw) return null
  const header = raw.slice(0, MAX_SCANNED)
  const browser = BROWSERS.find(([, pattern]) => pattern.test(header))
  const system = SYSTEMS.find(([, pattern]) => pattern.test(header))?.[0]
  if (browser) {
    const version = browser[1].exec(header)?.[1]?.slice(0, 10)
    const name = version ? `${browser[0]} ${version}` : browser[0]
    return (system ? `${name} on ${system}` : name).slice(0, MAX_LENGTH)
  }
  // Anything else (a script, an SDK): its first product token, printable characters only.
  const product = header.split(' ')[0]?.replace(/[^\x21-\x7e]/g, '') ?? ''
  return product === '' ? null : product.slice(0, MAX_LENGTH)
}
