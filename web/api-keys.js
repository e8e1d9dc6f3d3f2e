// The "API keys" card: create a scoped personal key (shown once), list and revoke them.
// The key itself lives only in the read-only field of the "copy it now" box until that box is
// dismissed or the page reloads: never in storage, never in the response log (prefix only), never
// in a variable of this module (OWASP REST Security Cheat Sheet, "API Keys"; ASVS 5.0 V13.3.1).

import {
  $,
  busy,
  el,
  errorCode,
  failureText,
  hideResult,
  placeholderRow,
  resultKind,
  setValue,
  showResult,
  textCell,
  timeCell,
  value,
} from './ui.js'

const COLUMNS = 7
/** The scope GET /me needs: the "Try it" line uses a key that has it. */
const TRY_SCOPE = 'profile:read'

/** What the response log shows of a created key: everything but the key, which becomes its prefix. */
function redactCreated(data) {
  if (!data || typeof data !== 'object' || typeof data.key !== 'string') return data
  const prefix = typeof data.prefix === 'string' ? data.prefix : 'ghk_'
  return { ...data, key: `${prefix}… (shown once in the API keys card, never logged)` }
}

/**
 * @param {{
 *   api: (method: string, path: string, options?: object) => Promise<{ok: boolean, status: number, data: any}>,
 *   apiBaseUrl: () => string,
 *   reportBug: (err: unknown) => void,
 *   signedOut: (status: number) => void,
 *   currentUser: () => any,
 * }} ctx
 */
export function createApiKeysCard(ctx) {
  /** Whether the create form asks for the current password (after a FRESH_SESSION_REQUIRED). */
  let askPassword = false
  /** The last list shown (ids, names, prefixes: never a key), for the "Try it" line. */
  let listed = null
  /** Bumped when the signed-in user changes: an answer asked for before is dropped. */
  let generation = 0

  function renderScopes(scopes) {
    const box = $('apikey-scopes')
    if (!Array.isArray(scopes)) {
      box.replaceChildren(el('p', 'help', 'Log in to see the scopes a key may carry.'))
      return
    }
    box.replaceChildren(
      ...scopes.map((scope, index) => {
        const id = `apikey-scope-${index}`
        const item = el('div', 'check')
        const input = el('input')
        input.type = 'checkbox'
        input.id = id
        input.name = 'scopes'
        input.value = String(scope.name)
        const label = el('label')
        label.htmlFor = id
        label.append(
          el('code', 'check__name', String(scope.name)),
          el('span', 'check__help', scope.description),
        )
        item.append(input, label)
        return item
      }),
    )
  }

  function chosenScopes() {
    return [...$('apikey-scopes').querySelectorAll('input[name="scopes"]:checked')].map(
      (input) => /** @type {HTMLInputElement} */ (input).value,
    )
  }

  function renderTryIt(keys) {
    const line = $('apikey-try')
    const usable = Array.isArray(keys)
      ? keys.filter((key) => Array.isArray(key.scopes) && key.scopes.includes(TRY_SCOPE))
      : []
    // The newest such key: the one just created, most likely.
    const newest = usable.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))[0]
    const prefix = newest && typeof newest.prefix === 'string' ? newest.prefix : 'ghk_'
    line.textContent = `curl -H "Authorization: Bearer ${prefix}…" ${ctx.apiBaseUrl()}/me`
    $('apikey-try-help').textContent = newest
      ? `Put your whole key in place of ${prefix}… (the key “${newest.name}” has ${TRY_SCOPE}).`
      : `Needs a key with ${TRY_SCOPE}; put the whole key in place of ghk_….`
  }

  /** `keys`: the API's list, or null before a load (and after the user changed). */
  function renderKeys(keys) {
    const body = $('apikeys-body')
    listed = keys
    renderTryIt(keys)
    if (!Array.isArray(keys)) {
      body.replaceChildren(placeholderRow(COLUMNS, 'Log in to list your API keys.'))
      return
    }
    if (keys.length === 0) {
      body.replaceChildren(placeholderRow(COLUMNS, 'No API key yet.'))
      return
    }
    body.replaceChildren(
      ...keys.map((key) => {
        const row = el('tr')
        const id = String(key.id)
        const name = String(key.name)
        row.dataset.keyId = id
        row.dataset.prefix = String(key.prefix)
        // A flex box inside the cell: a cell that is itself flex leaves the table's layout.
        const scopes = el('td')
        const chips = el('div', 'scope-list')
        for (const scope of Array.isArray(key.scopes) ? key.scopes : []) {
          chips.append(el('span', 'chip', String(scope)))
        }
        scopes.append(chips)
        const action = el('td')
        const revoke = el('button', 'button button--small button--danger', 'Revoke')
        revoke.type = 'button'
        revoke.setAttribute('aria-label', `Revoke the key “${name}”`)
        revoke.addEventListener('click', () => {
          busy(revoke, () => revokeKey(id, name)).catch(ctx.reportBug)
        })
        action.append(revoke)
        row.append(
          textCell(name),
          textCell(`${key.prefix}…`, 'table__mono'),
          scopes,
          timeCell(key.created_at, '—'),
          timeCell(key.last_used_at, 'never'),
          timeCell(key.expires_at, '—'),
          action,
        )
        return row
      }),
    )
  }

  function setAskPassword(ask) {
    askPassword = ask
    $('apikey-stepup').hidden = !ask
    $('apikey-submit').textContent = ask ? 'Confirm and create' : 'Create key'
    if (!ask) setValue('apikey-password', '')
  }

  function showCreated(created) {
    setValue('apikey-value', created.key)
    $('apikey-created-name').textContent = `“${created.name}”, ${created.scopes.join(', ')}`
    $('apikey-copy-status').textContent = ''
    $('apikey-created').hidden = false
    $('apikey-copy').focus()
  }

  /** Takes the key out of the page: the field's value is the one place it was. */
  function dismissCreated() {
    setValue('apikey-value', '')
    $('apikey-copy-status').textContent = ''
    $('apikey-created-name').textContent = ''
    $('apikey-created').hidden = true
  }

  async function copyKey() {
    const field = /** @type {HTMLInputElement} */ ($('apikey-value'))
    const status = $('apikey-copy-status')
    if (field.value === '') return
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard API')
      await navigator.clipboard.writeText(field.value)
      status.textContent = 'Copied to the clipboard.'
    } catch {
      // No clipboard (an insecure origin, or permission refused): select it for a manual copy.
      field.focus()
      field.select()
      status.textContent = 'Selected: press Ctrl+C (⌘C on a Mac) to copy it.'
    }
  }

  async function loadScopes() {
    const asked = generation
    const { ok, status, data } = await ctx.api('GET', '/api-keys/scopes')
    if (asked !== generation) return
    if (ok && Array.isArray(data)) {
      renderScopes(data)
      return
    }
    ctx.signedOut(status)
    renderScopes(null)
  }

  async function loadKeys() {
    const asked = generation
    const { ok, status, data } = await ctx.api('GET', '/api-keys')
    // Answered for a user who has signed out (or been replaced) meanwhile: not shown.
    if (asked !== generation) return
    if (ok && Array.isArray(data)) {
      renderKeys(data)
      return
    }
    ctx.signedOut(status)
    showResult(
      'apikey-result',
      resultKind(ok, status),
      status === 401 ? 'Signed out: log in to see your API keys.' : failureText(status, data),
    )
  }

  async function createKey() {
    const scopes = chosenScopes()
    if (scopes.length === 0) {
      showResult('apikey-result', 'error', 'Choose at least one scope.')
      return
    }
    const body = {
      name: value('apikey-name').trim(),
      scopes,
      expires_in_days: Number(value('apikey-days')),
    }
    const password = value('apikey-password')
    const sentPassword = askPassword && password !== ''
    if (sentPassword) body.current_password = password
    const { ok, status, data } = await ctx.api('POST', '/api-keys', { json: body, redact: redactCreated })
    if (ok && data && typeof data.key === 'string') {
      setAskPassword(false)
      setValue('apikey-name', '')
      hideResult('apikey-result')
      showCreated(data)
      await loadKeys()
      return
    }
    if (errorCode(data) === 'FRESH_SESSION_REQUIRED') {
      // The API answers the same for no password and a wrong one (it says nothing more to a guesser).
      setAskPassword(true)
      setValue('apikey-password', '')
      showResult(
        'apikey-result',
        'error',
        sentPassword
          ? `${failureText(status, data)} The password was not accepted: try again.`
          : `${failureText(status, data)}. Enter your current password, then “Confirm and create”.`,
      )
      $('apikey-password').focus()
      return
    }
    ctx.signedOut(status)
    showResult('apikey-result', resultKind(ok, status), failureText(status, data))
  }

  async function revokeKey(id, name) {
    const { ok, status, data } = await ctx.api('DELETE', `/api-keys/${encodeURIComponent(id)}`)
    if (ok) {
      showResult('apikey-result', 'ok', `The key “${name}” is revoked: the API refuses it from now on.`)
    } else {
      ctx.signedOut(status)
      showResult('apikey-result', resultKind(ok, status), failureText(status, data))
    }
    if (status !== 0 && status !== 401) await loadKeys()
  }

  const form = /** @type {HTMLFormElement} */ ($('apikey-form'))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    busy(form, createKey).catch(ctx.reportBug)
  })
  $('apikey-copy').addEventListener('click', () => {
    copyKey().catch(ctx.reportBug)
  })
  $('apikey-dismiss').addEventListener('click', dismissCreated)
  // Leaving the page ends the showing too: a page kept in the back/forward cache keeps no key.
  window.addEventListener('pagehide', dismissCreated)
  const refresh = /** @type {HTMLButtonElement} */ ($('apikey-refresh'))
  refresh.addEventListener('click', () => {
    busy(refresh, async () => {
      hideResult('apikey-result')
      await loadKeys()
    }).catch(ctx.reportBug)
  })

  renderScopes(null)
  renderKeys(null)

  return {
    /** Reloads the list (a password change may have ended every key). */
    async refresh() {
      if (ctx.currentUser()) await loadKeys()
    },
    /** The API's address is known: the "Try it" line names it. */
    configured() {
      renderTryIt(listed)
    },
    /** Another user (or none): nothing of the last one stays, the new one's keys are loaded. */
    userChanged(user, previousId) {
      if (user?.id === previousId) return
      generation += 1
      dismissCreated()
      setAskPassword(false)
      hideResult('apikey-result')
      renderKeys(null)
      renderScopes(null)
      if (user) {
        Promise.all([loadScopes(), loadKeys()]).catch(ctx.reportBug)
      }
    },
  }
}
