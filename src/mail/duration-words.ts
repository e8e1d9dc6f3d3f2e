const UNITS = [
  { seconds: 86_400, name: 'day' },
  { seconds: 3_600, name: 'hour' },
  { seconds: 60, name: 'minute' },
] as const

/**
 * A link's lifetime as a reader says it: "1 hour", "30 minutes", "2 days". The largest unit that
 * divides it exactly; otherwise whole minutes rounded down, so the mail never promises a link
 * works longer than it does.
 */
export function durationInWords(totalSeconds: number): string {
  const seconds = Math.floor(totalSeconds)
  if (!Number.isFinite(seconds) || seconds < 1) {
    throw new RangeError('a link lifetime must be at least one second')
  }
  for (const unit of UNITS) {
    if (seconds >= unit.seconds && seconds % unit.seconds === 0)
      return plural(seconds / unit.seconds, unit.name)
  }
  if (seconds >= 60) return plural(Math.floor(seconds / 60), 'minute')
  return plural(seconds, 'second')
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`
}
