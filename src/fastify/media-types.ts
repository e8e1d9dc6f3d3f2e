import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ERRORS } from '../core/errors.ts'

/** Fastify keeps each encapsulation context's parsers under this (unexported) symbol. */
const PARSER_SYMBOL = 'fastify.contentTypeParser'

interface ParserTable {
  parserList?: unknown
}

/** The media types with a parser in this context, oldest first (Fastify adds to the front). */
function registeredTypes(instance: FastifyInstance): string[] {
  for (let object: object | null = instance; object !== null; object = Object.getPrototypeOf(object)) {
    const symbol = Object.getOwnPropertySymbols(object).find((s) => s.description === PARSER_SYMBOL)
    if (symbol === undefined) continue
    const list = ((object as Record<symbol, ParserTable>)[symbol] as ParserTable).parserList
    return Array.isArray(list) ? list.filter((type) => typeof type === 'string').reverse() : []
  }
  return []
}

/**
 * A 415 that tells the client what would work: the route's declared `schema.consumes`, else the
 * parsers it can reach. It never repeats the Content-Type sent (no echoed input).
 */
export function unsupportedMediaTypeDetail(request: FastifyRequest): string {
  const consumes = (request.routeOptions.schema as { consumes?: unknown } | undefined)?.consumes
  const declared = Array.isArray(consumes) ? consumes.filter((type) => typeof type === 'string') : []
  const types = declared.length > 0 ? declared : registeredTypes(request.server)
  const generic = ERRORS.UNSUPPORTED_MEDIA_TYPE.detail
  return types.length > 0 ? `${generic}; this route accepts ${types.join(', ')}` : generic
}
