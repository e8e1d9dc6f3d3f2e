/**
 * The docs' own brand and stylesheet, embedded so they ship with the compiled package (only
 * `dist` and `web` are published) and are served from our origin: no CDN, nothing a CSP of
 * `default-src 'self'` would refuse.
 */

/** The Gatehouse mark (the demo front end's favicon): a gate in a tower. */
const MARK =
  '<rect width="64" height="64" rx="14" fill="#0f766e"/>' +
  '<path d="M12 54V14h6v6h5v-6h6v6h6v-6h6v6h5v-6h6v40H39V42a7 7 0 0 0-14 0v12z" fill="#f0fdfa"/>'

export const DOCS_FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">${MARK}</svg>`

/** The top bar's logo: the mark and the name, light on Swagger UI's dark bar. */
export const DOCS_LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 380 64" role="img" aria-label="Gatehouse API docs">' +
  MARK +
  '<text x="78" y="43" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" ' +
  'font-size="28" font-weight="600" fill="#f0fdfa" textLength="290" lengthAdjust="spacingAndGlyphs">Gatehouse API docs</text></svg>'

/**
 * Hides what a reader of these docs cannot use:
 * - the explore bar: the UI reads this server's /openapi.json, and loading another document into
 *   a page that holds this API's tokens and cookies is nothing we want to offer;
 * - client_id, client_secret and "client credentials location" in the OAuth2 password dialog:
 *   /token ignores them (there are no registered clients), so they would only mislead; and the
 *   dialog's text about granting scopes to Swagger UI, as no route asks for a scope.
 * The rows are found by their labels' `for` (Swagger UI 5 gives each row no class of its own).
 */
export const DOCS_CSS = `
.swagger-ui .topbar .download-url-wrapper { display: none; }
.swagger-ui .topbar { background-color: #134e4a; }
.swagger-ui .topbar-wrapper img { height: 40px; }
.swagger-ui .auth-container .wrapper:has(> label[for^="client_id"]),
.swagger-ui .auth-container .wrapper:has(> label[for^="client_secret"]),
.swagger-ui .auth-container .wrapper:has(> label[for^="password_type"]),
.swagger-ui .auth-container .scope-def { display: none; }
`
