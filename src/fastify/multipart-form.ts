import { Busboy, type BusboyFileStream } from '@fastify/busboy'
import type { FastifyRequest, RouteOptions } from 'fastify'
import { GatehouseError } from '../core/errors.ts'
import { unsupportedMediaTypeDetail } from './media-types.ts'

export const MULTIPART = 'multipart/form-data'
const URLENCODED = 'application/x-www-form-urlencoded'

/**
 * A login or token form has two to six text fields: anything past these limits is not a form we
 * take (OWASP File Upload Cheat Sheet: accept no file where none is needed; ASVS 5.0 V4.2 input
 * limits). Parts are counted too, so a body of many skipped (non-form-data) parts is refused.
 */
export const MULTIPART_FORM_LIMITS = Object.freeze({
  fields: 8,
  parts: 8,
  fieldSize: 4096,
  fieldNameSize: 100,
  /** Header bytes of one part (its Content-Disposition and Content-Type). */
  headerSize: 1024,
  headerPairs: 8,
})

type ConsumesSchema = { consumes?: unknown } | undefined

function declaredConsumes(schema: ConsumesSchema): string[] | undefined {
  const consumes = schema?.consumes
  return Array.isArray(consumes) ? consumes.filter((type) => typeof type === 'string') : undefined
}

/**
 * A route takes multipart when it takes a urlencoded form — FastAPI's `Form(...)` and
 * `OAuth2PasswordRequestForm` read both — or lists multipart itself. A route declaring no
 * `consumes` takes every parser the app has, multipart among them, as it takes urlencoded.
 */
export function acceptsMultipart(schema: ConsumesSchema): boolean {
  const consumes = declaredConsumes(schema)
  return consumes === undefined || consumes.includes(URLENCODED) || consumes.includes(MULTIPART)
}

/** onRoute: a route that lists the urlencoded form lists multipart too, so the docs say so. */
export function documentMultipart(routeOptions: RouteOptions): void {
  const consumes = declaredConsumes(routeOptions.schema as ConsumesSchema)
  if (!consumes?.includes(URLENCODED) || consumes.includes(MULTIPART)) return
  // A new schema object: one may be shared by several routes (POST and PATCH /me).
  routeOptions.schema = { ...routeOptions.schema, consumes: [...consumes, MULTIPART] }
}

const tooLarge = (detail: string) => new GatehouseError('BODY_TOO_LARGE', { detail })
const fieldError = (name: string, msg: string, type: string) =>
  new GatehouseError('VALIDATION_FAILED', { detail: [{ loc: ['body', name], msg, type }] })

/**
 * Fastify content-type parser for multipart/form-data: text fields into the same plain object the
 * urlencoded parser gives (own properties of a prototype-less object, each name once), so routes
 * and their schemas cannot tell the two apart. Files are refused, not stored.
 */
export function parseMultipartForm(
  request: FastifyRequest,
  payload: NodeJS.ReadableStream,
  done: (error: Error | null, body?: unknown) => void,
): void {
  if (!acceptsMultipart(request.routeOptions.schema as ConsumesSchema)) {
    done(new GatehouseError('UNSUPPORTED_MEDIA_TYPE', { detail: unsupportedMediaTypeDetail(request) }))
    return
  }
  // A raw-stream parser gets no bodyLimit from Fastify: it is counted here.
  const bodyLimit = request.routeOptions.bodyLimit
  const declaredLength = Number(request.headers['content-length'])
  if (declaredLength > bodyLimit) {
    done(tooLarge('Request body too large'))
    return
  }

  let busboy: InstanceType<typeof Busboy>
  try {
    busboy = new Busboy({
      headers: request.headers as { 'content-type': string },
      limits: { ...MULTIPART_FORM_LIMITS, files: Number.POSITIVE_INFINITY, fileSize: 0 },
    })
  } catch {
    // No boundary, or not multipart at all.
    done(new GatehouseError('MALFORMED_BODY', { detail: 'Malformed multipart body' }))
    return
  }

  const body: Record<string, string> = Object.create(null)
  let settled = false
  let received = 0
  const finish = (error: Error | null) => {
    if (settled) return
    settled = true
    if (error) {
      payload.unpipe(busboy)
      // Read and drop the rest, so the connection can carry the error response (and the next).
      payload.resume()
      done(error)
    } else {
      done(null, body)
    }
  }

  payload.on('data', (chunk: Buffer) => {
    received += chunk.length
    if (received > bodyLimit) finish(tooLarge('Request body too large'))
  })
  payload.on('error', () =>
    finish(new GatehouseError('MALFORMED_BODY', { detail: 'Malformed multipart body' })),
  )

  // A part without `name` (RFC 7578 §4.2 makes it mandatory) comes as an undefined name: it is
  // malformed, and must never reach Buffer.byteLength or a field error's `loc`.
  const nameless = () =>
    finish(new GatehouseError('MALFORMED_BODY', { detail: 'A form part has no field name' }))
  busboy.on('field', (name: unknown, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
    if (typeof name !== 'string' || name === '') {
      nameless()
    } else if (Buffer.byteLength(name) > MULTIPART_FORM_LIMITS.fieldNameSize) {
      finish(tooLarge(`A form field name is longer than ${MULTIPART_FORM_LIMITS.fieldNameSize} bytes`))
    } else if (valueTruncated) {
      finish(tooLarge(`A form field is larger than ${MULTIPART_FORM_LIMITS.fieldSize} bytes`))
    } else if (Object.hasOwn(body, name)) {
      // Which of two values would the route read? Neither (OWASP HTTP parameter pollution).
      finish(fieldError(name, 'Field given more than once', 'duplicate'))
    } else {
      body[name] = value
    }
  })
  busboy.on('file', (name: unknown, stream: BusboyFileStream) => {
    stream.resume()
    if (typeof name !== 'string' || name === '') nameless()
    else finish(fieldError(name, 'File uploads are not accepted; send this field as text', 'file'))
  })
  // To the client every part is a field (files are refused anyway): one message for both limits.
  const tooManyFields = () =>
    finish(tooLarge(`Too many form fields (at most ${MULTIPART_FORM_LIMITS.fields})`))
  busboy.on('fieldsLimit', tooManyFields)
  busboy.on('partsLimit', tooManyFields)
  busboy.on('error', () =>
    finish(new GatehouseError('MALFORMED_BODY', { detail: 'Malformed multipart body' })),
  )
  busboy.on('finish', () => finish(null))
  payload.pipe(busboy)
}
