/**
 * Content-Security-Policy profiles as directive tables (CSP Level 3; OWASP Content Security Policy
 * Cheat Sheet), serialised once at boot. Tables rather than strings so a deployment can extend one
 * directive without retyping the policy, e.g. the demo front end calling the API on another origin:
 * `serializeCsp({ ...HTML_CSP, 'connect-src': ["'self'", 'http://localhost:8000'] })`.
 */
export type CspDirectives = Readonly<Record<string, readonly string[]>>

/** Freezes the table and its source lists: profiles are shared by every app in the process. */
function defineCsp(directives: Record<string, readonly string[]>): CspDirectives {
  for (const sources of Object.values(directives)) Object.freeze(sources)
  return Object.freeze(directives)
}

/**
 * JSON never needs to load anything: `default-src 'none'` turns a response rendered as HTML by
 * mistake into an inert document, and `frame-ancestors 'none'` forbids framing (OWASP REST Security
 * Cheat Sheet, "Security Headers").
 */
export const API_CSP = defineCsp({
  'default-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  // Not a fetch directive, so default-src does not cover it (ASVS 5.0 V3.4.3).
  'base-uri': ["'none'"],
})

/**
 * Our own pages load scripts and styles from their own origin only: no 'unsafe-inline', no CDN
 * (OWASP Content Security Policy Cheat Sheet, "Strict CSP" goals; ASVS 5.0 V3.4.3). `data:` images
 * are for stylesheet icons; `base-uri 'none'` stops an injected <base> from redirecting relative
 * script URLs.
 */
export const HTML_CSP = defineCsp({
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
})

/**
 * The one inline stylesheet Swagger UI 5 renders: `<style>` inside its SVG logo
 * (`.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}`, standalone preset of
 * @fastify/swagger-ui 5.2.6). A hash allows exactly that text and nothing else (CSP Level 3,
 * hash-source); test/core/headers.test.ts recomputes it from the installed package.
 */
export const SWAGGER_UI_LOGO_STYLE_HASH = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"

/**
 * Swagger UI runs under the HTML policy without 'unsafe-inline' (checked in Chromium: Authorize,
 * Try it out, Execute, syntax highlighting). It loads its JS and CSS from our origin, uses `data:`
 * images, and sets element styles through the CSSOM, which style-src does not govern. Only two
 * inline styles are refused: its logo's <style> (allowed below by hash) and `style="text-align"`
 * on aligned Markdown tables in API descriptions, which lose their alignment. Neither is worth
 * 'unsafe-inline', which would let injected markup restyle the page that holds the user's tokens.
 */
export const DOCS_CSP = defineCsp({
  ...HTML_CSP,
  'style-src': ["'self'", SWAGGER_UI_LOGO_STYLE_HASH],
})

const DIRECTIVE_NAME = /^[a-z][a-z-]*$/
// CSP Level 3 §2.2: `;` ends a directive and `,` ends a policy; whitespace separates sources.
const SOURCE_EXPRESSION = /^[^\s;,]+$/

/** Serialises a directive table; throws at boot on a name or source that would corrupt the policy. */
export function serializeCsp(directives: CspDirectives): string {
  return Object.entries(directives)
    .map(([name, sources]) => {
      if (!DIRECTIVE_NAME.test(name)) {
        throw new Error(`serializeCsp: invalid directive name ${JSON.stringify(name)}`)
      }
      for (const source of sources) {
        if (!SOURCE_EXPRESSION.test(source)) {
          throw new Error(`serializeCsp: invalid source ${JSON.stringify(source)} in ${name}`)
        }
      }
      return sources.length === 0 ? name : `${name} ${sources.join(' ')}`
    })
    .join('; ')
}
