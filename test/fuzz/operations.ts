/** The operations of an OpenAPI 3.1 document, in the shape the fuzz needs. */
import type { Schema } from './schema-values.ts'

export interface Operation {
  /** Upper case. */
  method: string
  /** The document's template, e.g. `/sessions/{id}`. */
  path: string
  /** `POST /sessions/{id}`: how coverage and failures name it. */
  name: string
  pathParams: { name: string; schema: Schema }[]
  /** Media type → body schema; empty when the operation takes no body. */
  bodies: Record<string, Schema>
  /** It names a security requirement: the fuzz sends a live user's credentials on most requests. */
  secured: boolean
  /** Status (as written in the document) → the JSON schema of that answer, when it has one. */
  responses: Record<string, Schema | undefined>
}

interface OpenApiOperation {
  parameters?: { in: string; name: string; schema?: Schema }[]
  requestBody?: { content?: Record<string, { schema?: Schema }> }
  security?: unknown[]
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>
  components?: { schemas?: Record<string, Schema> }
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = []
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      const bodies: Record<string, Schema> = {}
      for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) {
        bodies[type] = media.schema ?? {}
      }
      const responses: Record<string, Schema | undefined> = {}
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        responses[status] = response.content?.['application/json']?.schema
      }
      operations.push({
        method: method.toUpperCase(),
        path,
        name: `${method.toUpperCase()} ${path}`,
        pathParams: (operation.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => ({ name: p.name, schema: p.schema ?? { type: 'string' } })),
        bodies,
        secured: (operation.security ?? []).length > 0,
        responses,
      })
    }
  }
  return operations
}

/** Resolves `#/components/schemas/X` references. */
export function resolver(document: OpenApiDocument): (schema: Schema) => Schema {
  const schemas = document.components?.schemas ?? {}
  return (schema) => {
    if (!schema.$ref) return schema
    const name = schema.$ref.replace(/^#\/components\/schemas\//, '')
    const target = schemas[name]
    if (!target) throw new Error(`unresolvable $ref ${schema.$ref}`)
    return target
  }
}
