import { isGatehouseError } from '../core/errors.ts'

/**
 * One line for a failed command: a domain error's `detail` messages (what /register would answer),
 * any other error's message; never a stack trace.
 */
export function errorLine(error: unknown): string {
  let message: string
  if (isGatehouseError(error) && Array.isArray(error.detail)) {
    const messages = error.detail
      .map((item) => (item as { msg?: unknown })?.msg)
      .filter((msg): msg is string => typeof msg === 'string')
    message = messages.length > 0 ? messages.join('; ') : error.message
  } else if (isGatehouseError(error) && typeof error.detail === 'string') {
    message = error.detail
  } else {
    message = plainMessage(error)
  }
  return `gatehouse: ${message.replace(/\s*\n\s*/g, ' ').trim()}`
}

/** An Error's message; an empty AggregateError (e.g. every address of a host refused) gives its parts'. */
function plainMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  if (error.message) return error.message
  if (error instanceof AggregateError) return error.errors.map(plainMessage).join('; ')
  return (error as NodeJS.ErrnoException).code ?? error.name
}
