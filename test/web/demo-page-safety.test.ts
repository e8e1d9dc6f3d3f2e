/**
 * The demo page's own code, read as it ships (web/): every password input is a password field that
 * password managers can fill and users can paste into, and no script ever inserts HTML, so any text
 * from the API (an email, a user agent, a key's name) can only ever be shown as text.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'

const WEB = new URL('../../web/', import.meta.url)
const page = readFileSync(new URL('index.html', WEB), 'utf8')
const scripts = readdirSync(WEB)
  .filter((name) => name.endsWith('.js'))
  .map((name) => ({ name, source: readFileSync(new URL(name, WEB), 'utf8') }))

/** Every <input …> tag of the page, its attributes by name. */
function inputs(): Map<string, string>[] {
  return [...page.matchAll(/<input\b([^>]*)>/g)].map((match) => {
    const attributes = new Map<string, string>()
    for (const [, name, value] of (match[1] ?? '').matchAll(/([a-z-]+)(?:="([^"]*)")?/g)) {
      attributes.set(name as string, value ?? '')
    }
    return attributes
  })
}

describe('the demo page', () => {
  it('makes every password input a password field that password managers fill (type=password, autocomplete)', () => {
    // Fields that take a password (not a checkbox such as "keep my other sessions").
    const passwords = inputs().filter(
      (input) =>
        /password/.test(`${input.get('name')} ${input.get('id')}`) && input.get('type') !== 'checkbox',
    )
    assert.ok(passwords.length >= 5, `found ${passwords.length} password inputs`)
    for (const input of passwords) {
      const label = input.get('id') ?? input.get('name')
      assert.equal(input.get('type'), 'password', `${label} is type=password`)
      assert.match(input.get('autocomplete') ?? '', /^(current|new)-password$/, `${label} autocomplete`)
    }
  })

  it('never blocks paste or copy into its fields', () => {
    assert.doesNotMatch(page, /on(paste|copy|cut|drop)=/i)
    for (const { name, source } of scripts) {
      assert.doesNotMatch(
        source,
        /['"](paste|copy|cut)['"]|on(paste|copy|cut)\b/,
        `${name} handles no paste event`,
      )
    }
  })

  it('inserts no HTML from script: no innerHTML, outerHTML, insertAdjacentHTML or document.write', () => {
    assert.ok(scripts.length >= 3, 'the page has its scripts')
    for (const { name, source } of scripts) {
      assert.doesNotMatch(
        source,
        /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|createContextualFragment/,
        name,
      )
    }
  })
})
