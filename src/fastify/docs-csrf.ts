/**
 * Swagger UI request interceptor, shipped to the browser as source text (@fastify/swagger-ui
 * serializes functions with toString), so it must be self-contained plain JavaScript.
 *
 * Before every unsafe request it fetches a fresh CSRF token from /csrf and sends it as
 * `x-csrftoken`, so "Try it out" works on cookie-authenticated routes — the interactive docs the
 * book says CSRF protection breaks. Asking /csrf each time keeps it independent of the cookie's
 * name (`__Host-csrftoken` in production) and of HttpOnly settings.
 *
 * It also drops the `Authorization: Basic Og==` (an empty client_id and client_secret, RFC 7617
 * §2) that the OAuth2 password dialog sends to the token URL even though the docs hide those
 * fields: Gatehouse has no registered clients, and an empty pair is no credential.
 */
// biome-ignore lint/suspicious/noExplicitAny: Swagger UI's own request type is `{ [prop: string]: any }`.
type SwaggerRequest = { [prop: string]: any }

export function csrfRequestInterceptor(request: SwaggerRequest): SwaggerRequest | Promise<SwaggerRequest> {
  for (const name of ['Authorization', 'authorization']) {
    if (request.headers?.[name] === 'Basic Og==') delete request.headers[name]
  }
  const method = (request.method || 'GET').toUpperCase()
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return request
  return fetch(new URL('/csrf', request.url).toString(), { credentials: 'include' })
    .then((response) => response.json())
    .then((body: { csrf_token?: string }) => {
      if (body.csrf_token) request.headers['x-csrftoken'] = body.csrf_token
      return request
    })
}
