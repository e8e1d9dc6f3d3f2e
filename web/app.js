// Gatehouse demo: a static page on a second origin that calls the Gatehouse API with cookies.
// Runs under a strict CSP: no inline script or style, no eval, DOM built with textContent only.

import { createAdminUsersCard } from './admin-users.js'
import { createApiKeysCard } from './api-keys.js'
import {
  $,
  busy,
  el,
  errorLines,
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

const DEFAULT_API_BASE_URL = 'http://localhost:8000'
const REQUEST_TIMEOUT_MS = 15000
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

const state = {
  apiBaseUrl: DEFAULT_API_BASE_URL,
  /** CSRF token from a response body; the API's cookies are not readable from this origin. */
  csrfToken: null,
  /** The logged-in user as last reported by the API, or null. */
  user: null,
  seq: 0,
}

/** The cards that follow the signed-in user (API keys, admin): told whenever it may have changed. */
const userCards = []
/** The API keys card, once built (main). */
let apiKeysCard

// Resolved once config.json is read (calls made earlier wait for it, so they use the right API URL).
let configReady
const configLoaded = new Promise((resolve) => {
  configReady = resolve
})
// Resolved once the startup GET /csrf finished (unsafe calls made earlier wait for the token).
let csrfReady
const startupCsrf = new Promise((resolve) => {
  csrfReady = resolve
})

// ---------------------------------------------------------------- mail links

/** The pages the account mails link to (`${APP_URL}/reset-password#token=…`), by path. */
const MAIL_LINK_VIEWS = new Map([
  ['/reset-password', 'reset'],
  ['/verify-email', 'verify'],
])

/**
 * Takes the token out of a mail link's fragment, then removes the fragment from the address bar
 * and from this history entry, so the token is not kept where the next person at this browser, a
 * bookmark or a shared screen would find it (OWASP Forgot Password Cheat Sheet, "URL tokens").
 * From here on it lives in memory only. Runs as the module is evaluated, before any request.
 */
function takeMailLink() {
  const view = MAIL_LINK_VIEWS.get(location.pathname)
  if (!view) return null
  const token = new URLSearchParams(location.hash.slice(1)).get('token')
  if (location.hash !== '') history.replaceState(history.state, '', `${location.pathname}${location.search}`)
  return { view, token: token || null }
}

const mailLink = takeMailLink()

// ---------------------------------------------------------------- configuration

function normaliseBaseUrl(value) {
  if (typeof value !== 'string' || value.trim() === '') return null
  try {
    const url = new URL(value.trim())
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    return url.href.replace(/\/+$/, '')
  } catch {
    return null
  }
}

async function loadConfig() {
  try {
    const res = await fetch('./config.json', { cache: 'no-store', credentials: 'same-origin' })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const config = await res.json()
    const base = normaliseBaseUrl(config?.apiBaseUrl)
    if (!base) throw new Error('no valid apiBaseUrl')
    return { apiBaseUrl: base, note: '' }
  } catch (err) {
    return {
      apiBaseUrl: DEFAULT_API_BASE_URL,
      note: `(config.json unavailable: ${err instanceof Error ? err.message : String(err)}; using the default)`,
    }
  }
}

// ---------------------------------------------------------------- rendering helpers

function renderStatus() {
  const status = $('status')
  const detail = $('status-detail')
  const dot = $('status-dot')
  if (state.user?.email) {
    status.textContent = `Logged in as ${state.user.email}`
    const flags = [
      state.user.is_superuser ? 'superuser' : null,
      state.user.is_verified ? 'verified' : 'not verified',
      state.user.is_active === false ? 'inactive' : null,
    ].filter(Boolean)
    detail.textContent = `User id ${state.user.id} · ${flags.join(' · ')}`
    dot.classList.add('dot--on')
    $('prefs-user-id').textContent = String(state.user.id)
  } else {
    status.textContent = 'Not logged in'
    detail.textContent = 'Log in, or press “Who am I?” to check an existing session cookie.'
    dot.classList.remove('dot--on')
    $('prefs-user-id').textContent = '{user_id}'
  }
}

function renderCsrf(apiUnreachable = false) {
  const node = $('csrf-state')
  if (state.csrfToken) {
    const t = state.csrfToken
    node.textContent = t.length > 18 ? `${t.slice(0, 8)}…${t.slice(-6)}` : t
    node.title = 'Kept in memory from the last /csrf or /login response body'
    node.classList.remove('token--missing')
  } else {
    node.textContent = apiUnreachable ? 'none (API unreachable)' : 'none yet'
    node.title = 'No token received yet'
    node.classList.add('token--missing')
  }
}

function setUser(user) {
  const previousId = state.user?.id
  state.user = user && typeof user === 'object' && typeof user.email === 'string' ? user : null
  renderStatus()
  // Another user's (or a signed-out) page must not keep showing the last user's sessions and events.
  if (state.user?.id !== previousId) {
    renderSessions(null)
    renderAudit(null)
  }
  for (const card of userCards) card.userChanged(state.user, previousId)
  const resendEmail = /** @type {HTMLInputElement} */ ($('resend-email'))
  if (state.user && resendEmail.value === '') resendEmail.value = state.user.email
}

function formatBody(data, rawText) {
  if (data === undefined) return rawText === '' ? '(empty body)' : rawText
  return JSON.stringify(data, null, 2)
}

function loggedBody(data, rawText, redact) {
  if (!redact) return formatBody(data, rawText)
  // A body that did not parse cannot be redacted field by field, so none of it is shown.
  return data === undefined ? '(body not shown)' : formatBody(redact(data), '')
}

function announce(text) {
  const node = $('log-announcer')
  node.textContent = ''
  // A new text node on the next frame makes screen readers announce repeated messages too.
  requestAnimationFrame(() => {
    node.textContent = text
  })
}

const wideLayout = window.matchMedia('(min-width: 1000px)')
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)')

/**
 * Shows the newest log entry. On wide screens the log is its own scroll box beside the cards, so only
 * it scrolls; on narrow screens the log sits below the cards and the page scrolls to the entry.
 */
function revealNewest(li) {
  const log = $('log')
  if (wideLayout.matches) {
    log.scrollTo({ top: log.scrollHeight, behavior: reducedMotion.matches ? 'auto' : 'smooth' })
  } else {
    li.scrollIntoView({ block: 'nearest', behavior: reducedMotion.matches ? 'auto' : 'smooth' })
  }
}

/**
 * Appends one entry to the response log.
 * @param {{method: string, path: string, status: number, statusText?: string, body: string,
 *          errors?: string[], code?: string, sent?: string[], kind: 'ok'|'error'|'network', message?: string}} e
 */
function logEntry(e) {
  state.seq += 1
  const li = el('li', `log-entry log-entry--${e.kind}`)
  li.dataset.status = String(e.status)
  li.dataset.path = e.path
  li.dataset.method = e.method
  li.dataset.seq = String(state.seq)

  const head = el('div', 'log-entry__head')
  head.append(
    el('span', `method method--${e.method.toLowerCase()}`, e.method),
    el('span', 'log-entry__path', e.path),
  )
  const statusLabel = e.kind === 'network' ? 'no response' : `${e.status} ${e.statusText ?? ''}`.trim()
  head.append(el('span', `pill pill--${e.kind}`, statusLabel))
  const time = el('time', 'log-entry__time', new Date().toLocaleTimeString())
  time.dateTime = new Date().toISOString()
  head.append(time)
  li.append(head)

  if (e.sent && e.sent.length > 0) {
    const sent = el('p', 'log-entry__sent')
    sent.append(el('span', 'visually-hidden', 'Request: '))
    for (const s of e.sent) sent.append(el('span', 'chip', s))
    li.append(sent)
  }

  if (e.message) {
    const message = el('p', 'log-entry__message')
    if (e.kind === 'network') message.append(el('strong', null, 'Network error. '))
    message.append(e.message)
    li.append(message)
  }

  if (e.errors && e.errors.length > 0) {
    const list = el('ul', 'log-entry__errors')
    for (const line of e.errors) list.append(el('li', null, line))
    li.append(list)
  }
  if (e.code) li.append(el('p', 'log-entry__code', `code: ${e.code}`))

  if (e.body !== '') li.append(el('pre', 'log-entry__body', e.body))

  $('log').append(li)
  $('log-empty').hidden = true
  revealNewest(li)
  announce(`${e.method} ${e.path}: ${statusLabel}${e.errors?.length ? `, ${e.errors[0]}` : ''}`)
}

/** A client-side note in the log (not an API call, so it is not a `.log-entry`). */
function logNote(text) {
  const li = el('li', 'log-note', text)
  $('log').append(li)
  $('log-empty').hidden = true
  revealNewest(li)
  announce(text)
}

// ---------------------------------------------------------------- API calls

function useJson() {
  return /** @type {HTMLInputElement} */ ($('toggle-json')).checked
}

function sendCsrf() {
  return /** @type {HTMLInputElement} */ ($('toggle-csrf')).checked
}

/**
 * Calls the API and logs the result.
 * @param {string} method
 * @param {string} path
 * @param {{fields?: Record<string, string>, json?: unknown, redact?: (data: any) => unknown}} [options]
 *   `fields` follow the "JSON content type" toggle; `json` is always sent as JSON. `redact` gives
 *   what the log shows of a body holding a secret (a new API key shows as its prefix).
 * @returns {Promise<{ok: boolean, status: number, data: any}>}
 */
async function api(method, path, options = {}) {
  await configLoaded
  if (UNSAFE_METHODS.has(method)) await startupCsrf
  const headers = { accept: 'application/json' }
  const sent = []
  let body

  if (options.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.json)
    sent.push('application/json')
  } else if (options.fields !== undefined) {
    if (useJson()) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.fields)
      sent.push('application/json')
    } else {
      // URLSearchParams makes fetch send application/x-www-form-urlencoded: a CORS "simple" request.
      body = new URLSearchParams(options.fields)
      sent.push('form-urlencoded')
    }
  }

  if (UNSAFE_METHODS.has(method)) {
    if (!sendCsrf()) {
      sent.push('no x-csrftoken')
    } else if (state.csrfToken) {
      headers['x-csrftoken'] = state.csrfToken
      sent.push('x-csrftoken ✓')
    } else {
      sent.push('x-csrftoken: no token yet')
    }
  }

  const init = { method, headers, body, credentials: 'include', cache: 'no-store', mode: 'cors' }
  if (typeof AbortSignal !== 'undefined' && typeof AbortSignal.timeout === 'function') {
    init.signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  }

  let res
  try {
    res = await fetch(state.apiBaseUrl + path, init)
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError'
    logEntry({
      method,
      path,
      status: 0,
      kind: 'network',
      sent,
      message: timedOut
        ? `Timed out after ${REQUEST_TIMEOUT_MS / 1000} s waiting for ${state.apiBaseUrl}.`
        : `No readable response from ${state.apiBaseUrl}. Either the API is not running, ` +
          `or the browser blocked the response (CORS: this origin, ${location.origin}, is not allowed). ` +
          'The browser console has the details.',
      body: '',
    })
    return { ok: false, status: 0, data: undefined }
  }

  let rawText = ''
  let data
  try {
    rawText = await res.text()
    if (rawText !== '') data = JSON.parse(rawText)
  } catch {
    data = undefined
  }
  if (res.status === 204 || rawText === '') data = undefined

  const ok = res.ok
  logEntry({
    method,
    path,
    status: res.status,
    statusText: res.statusText,
    kind: ok ? 'ok' : 'error',
    sent,
    errors: ok ? [] : errorLines(data),
    code: !ok && data && typeof data.code === 'string' ? data.code : undefined,
    body: res.status === 204 ? '(204 No Content)' : loggedBody(data, rawText, options.redact),
  })
  return { ok, status: res.status, data }
}

async function fetchCsrf() {
  const { ok, status, data } = await api('GET', '/csrf')
  if (ok && data && typeof data.csrf_token === 'string') {
    state.csrfToken = data.csrf_token
  }
  renderCsrf(status === 0)
}

// ---------------------------------------------------------------- UI wiring

function onSubmit(id, handler) {
  const form = /** @type {HTMLFormElement} */ ($(id))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    busy(form, handler).catch(reportBug)
  })
}

function onClick(id, handler) {
  const button = /** @type {HTMLButtonElement} */ ($(id))
  button.addEventListener('click', () => {
    busy(button, handler).catch(reportBug)
  })
}

function reportBug(err) {
  console.error(err)
  logNote(`Page error: ${err instanceof Error ? err.message : String(err)}`)
}

function clearOnUnauthorized(status) {
  if (status === 401) setUser(null)
}

/** Parses the preferences textarea; shows an inline error and returns undefined when it is not an object. */
function readPrefs() {
  const errorNode = $('prefs-error')
  const textarea = $('prefs-json')
  let parsed
  let problem = ''
  try {
    parsed = JSON.parse(value('prefs-json'))
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problem = 'Preferences must be a JSON object, like {"theme": "dark"}.'
    }
  } catch (err) {
    problem = `Not valid JSON: ${err instanceof Error ? err.message : String(err)}`
  }
  errorNode.textContent = problem
  errorNode.hidden = problem === ''
  if (problem) {
    textarea.setAttribute('aria-invalid', 'true')
    return undefined
  }
  textarea.removeAttribute('aria-invalid')
  return parsed
}

function prefsPath() {
  if (!state.user) {
    logNote('Preferences: log in (or press “Who am I?”) first, so the page knows your user id.')
    return null
  }
  return `/prefs/${encodeURIComponent(String(state.user.id))}`
}

// ---------------------------------------------------------------- account lifecycle

/** `sessions`: the API's list, or null before a load (and after the user changed). */
function renderSessions(sessions) {
  const body = $('sessions-body')
  if (!Array.isArray(sessions)) {
    body.replaceChildren(placeholderRow(7, 'Press “Load sessions” to list them.'))
    return
  }
  if (sessions.length === 0) {
    body.replaceChildren(placeholderRow(7, 'No live session.'))
    return
  }
  body.replaceChildren(
    ...sessions.map((session) => {
      const row = el('tr')
      const id = String(session.id)
      const current = session.current === true
      row.dataset.sessionId = id
      row.dataset.current = String(current)
      const marker = el('td')
      if (current) marker.append(el('span', 'pill pill--current', 'this session'))
      const action = el('td')
      const signOut = el('button', 'button button--small button--danger', 'Sign out')
      signOut.type = 'button'
      signOut.setAttribute(
        'aria-label',
        `Sign out ${current ? 'this session' : 'the session'} created ${session.created_at ?? ''}`.trim(),
      )
      signOut.addEventListener('click', () => {
        busy(signOut, () => revokeSession(id, current)).catch(reportBug)
      })
      action.append(signOut)
      row.append(
        textCell(session.kind),
        textCell(session.user_agent),
        textCell(session.ip, 'table__mono'),
        timeCell(session.created_at, '—'),
        timeCell(session.last_used_at, 'never'),
        marker,
        action,
      )
      return row
    }),
  )
}

async function loadSessions() {
  const { ok, status, data } = await api('GET', '/sessions')
  if (ok && Array.isArray(data)) {
    renderSessions(data)
    return
  }
  clearOnUnauthorized(status)
  showResult(
    'sessions-result',
    resultKind(ok, status),
    status === 401 ? 'Signed out: log in to see your sessions.' : failureText(status, data),
  )
}

async function revokeSession(id, current) {
  const { ok, status, data } = await api('DELETE', `/sessions/${encodeURIComponent(id)}`)
  if (ok) {
    showResult(
      'sessions-result',
      'ok',
      current ? 'This session is signed out.' : 'The session is signed out.',
    )
    if (current) setUser(null)
  } else {
    clearOnUnauthorized(status)
    showResult('sessions-result', resultKind(ok, status), failureText(status, data))
  }
  if (status !== 0) await loadSessions()
}

/** `events`: the API's list, or null before a load (and after the user changed). */
function renderAudit(events) {
  const body = $('audit-body')
  if (!Array.isArray(events)) {
    body.replaceChildren(placeholderRow(5, 'Press “Load events” to list them.'))
    return
  }
  if (events.length === 0) {
    body.replaceChildren(placeholderRow(5, 'No event yet.'))
    return
  }
  body.replaceChildren(
    ...events.map((event) => {
      const row = el('tr')
      row.dataset.type = String(event.type)
      row.append(
        timeCell(event.at, '—'),
        textCell(event.type, 'table__mono'),
        textCell(event.user_agent),
        textCell(event.ip, 'table__mono'),
        textCell(event.reason),
      )
      return row
    }),
  )
}

async function loadAudit() {
  const { ok, status, data } = await api('GET', '/me/audit')
  if (ok && Array.isArray(data)) {
    hideResult('audit-result')
    renderAudit(data)
    return
  }
  clearOnUnauthorized(status)
  showResult(
    'audit-result',
    resultKind(ok, status),
    status === 401 ? 'Signed out: log in to see your events.' : failureText(status, data),
  )
}

/** The reset or verification card, when the page was opened from a mail link. */
function showMailLinkView() {
  if (!mailLink) return
  const reset = mailLink.view === 'reset'
  $(reset ? 'reset-card' : 'verify-card').hidden = false
  if (!mailLink.token) {
    if (reset) $('reset-form').hidden = true
    showResult(
      reset ? 'reset-result' : 'verify-result',
      'error',
      'This link has no token: open the link from the mail again, or ask for a new mail.',
    )
  }
}

async function verifyFromLink() {
  const token = mailLink?.token
  if (mailLink?.view !== 'verify' || !token) return
  // Sent once: the token is single use, so it is dropped whatever the answer.
  mailLink.token = null
  showResult('verify-result', 'pending', 'Checking the link…')
  const { ok, status, data } = await api('POST', '/verify', { fields: { token } })
  if (ok && data && typeof data.email === 'string') {
    showResult('verify-result', 'ok', `${data.email} is verified. Thank you.`)
    if (state.user && state.user.id === data.id) setUser(data)
  } else {
    showResult('verify-result', resultKind(ok, status), failureText(status, data))
  }
}

function wire() {
  onSubmit('register-form', async () => {
    const email = value('register-email').trim()
    const { ok, data } = await api('POST', '/register', {
      fields: { email, password: value('register-password') },
    })
    if (ok && data) {
      const loginEmail = /** @type {HTMLInputElement} */ ($('login-email'))
      if (!loginEmail.value) loginEmail.value = data.email ?? email
    }
  })

  onSubmit('login-form', async () => {
    // A failed login leaves any existing session alone, so the status is only updated on success.
    const { ok, data } = await api('POST', '/login', {
      fields: { email: value('login-email').trim(), password: value('login-password') },
    })
    if (ok && data) {
      if (typeof data.csrf_token === 'string') state.csrfToken = data.csrf_token
      setUser(data.user)
      renderCsrf()
      setValue('login-password', '')
    }
  })

  onClick('me-button', async () => {
    const { ok, status, data } = await api('GET', '/me')
    if (ok) setUser(data)
    else clearOnUnauthorized(status)
  })

  onClick('csrf-button', fetchCsrf)

  onSubmit('email-form', async () => {
    const fields = { email: value('new-email').trim() }
    const currentPassword = value('current-password')
    if (currentPassword !== '') fields.current_password = currentPassword
    const { ok, status, data } = await api('POST', '/me', { fields })
    if (ok) {
      setUser(data)
      setValue('current-password', '')
    } else {
      clearOnUnauthorized(status)
    }
  })

  onClick('prefs-load', async () => {
    const path = prefsPath()
    if (!path) return
    const { ok, status, data } = await api('GET', path)
    if (ok && data && typeof data === 'object') {
      setValue('prefs-json', JSON.stringify(data, null, 2))
      readPrefs()
    } else {
      clearOnUnauthorized(status)
    }
  })

  onSubmit('prefs-form', async () => {
    const prefs = readPrefs()
    if (prefs === undefined) return
    const path = prefsPath()
    if (!path) return
    const { ok, status, data } = await api('POST', path, { json: prefs })
    if (ok && data && typeof data === 'object') {
      setValue('prefs-json', JSON.stringify(data, null, 2))
    } else {
      clearOnUnauthorized(status)
    }
  })

  $('prefs-json').addEventListener('input', () => {
    if ($('prefs-json').hasAttribute('aria-invalid')) readPrefs()
  })

  onClick('logout-button', async () => {
    const { ok, status } = await api('POST', '/logout')
    if (ok || status === 401) {
      setUser(null)
      state.csrfToken = null
      renderCsrf()
    }
    if (status !== 0) await fetchCsrf()
  })

  onClick('forgot-open', async () => {
    const card = $('forgot-card')
    card.hidden = false
    const loginEmail = value('login-email').trim()
    if (value('forgot-email') === '' && loginEmail !== '') setValue('forgot-email', loginEmail)
    $('forgot-email').focus()
  })

  onSubmit('forgot-form', async () => {
    const { ok, status, data } = await api('POST', '/forgot-password', {
      fields: { email: value('forgot-email').trim() },
    })
    $('forgot-result-title').textContent = ok ? 'Check your mail' : 'Not sent'
    $('forgot-result-detail').textContent = ok
      ? `${typeof data?.detail === 'string' ? data.detail : 'A message is on its way'}. The link in it opens this page.`
      : failureText(status, data)
    showResult('forgot-result', resultKind(ok, status))
  })

  onSubmit('reset-form', async () => {
    const token = mailLink?.token
    if (!token) return
    const { ok, status, data } = await api('POST', '/reset-password', {
      fields: { token, password: value('reset-password') },
    })
    if (ok) {
      // Used up: a second submit could only fail.
      mailLink.token = null
      setValue('reset-password', '')
      $('reset-form').hidden = true
      // The reset ended every session of the account, this browser's included.
      setUser(null)
      const email = typeof data?.email === 'string' ? data.email : ''
      if (email && value('login-email') === '') setValue('login-email', email)
      showResult(
        'reset-result',
        'ok',
        `Password changed${email ? ` for ${email}` : ''}. Every session of the account was signed out: log in with the new password.`,
      )
    } else {
      // A refused password leaves the link usable: the form stays for another try.
      showResult('reset-result', resultKind(ok, status), failureText(status, data))
    }
  })

  onSubmit('password-form', async () => {
    const keep = /** @type {HTMLInputElement} */ ($('password-keep')).checked
    // Always JSON: `keep_other_sessions` is a boolean, which a form body cannot carry.
    const { ok, status, data } = await api('POST', '/me/password', {
      json: {
        current_password: value('password-current'),
        new_password: value('password-new'),
        keep_other_sessions: keep,
      },
    })
    if (ok) {
      setValue('password-current', '')
      setValue('password-new', '')
      // A password change ends the account's API keys unless the server keeps them.
      await apiKeysCard?.refresh()
      showResult(
        'password-result',
        'ok',
        keep
          ? 'Password changed. Your other sessions stay signed in.'
          : 'Password changed. Your other sessions were signed out.',
      )
    } else {
      clearOnUnauthorized(status)
      showResult('password-result', resultKind(ok, status), failureText(status, data))
    }
  })

  onSubmit('resend-form', async () => {
    const { ok, status, data } = await api('POST', '/request-verify-token', {
      fields: { email: value('resend-email').trim() },
    })
    showResult(
      'resend-result',
      resultKind(ok, status),
      ok
        ? `${typeof data?.detail === 'string' ? data.detail : 'A message is on its way'}, unless the address is already verified.`
        : failureText(status, data),
    )
  })

  onClick('sessions-load', async () => {
    hideResult('sessions-result')
    await loadSessions()
  })

  onClick('sessions-revoke-others', async () => {
    const { ok, status, data } = await api('DELETE', '/sessions')
    if (ok) {
      showResult('sessions-result', 'ok', 'Every other session is signed out.')
    } else {
      clearOnUnauthorized(status)
      showResult('sessions-result', resultKind(ok, status), failureText(status, data))
    }
    if (status !== 0) await loadSessions()
  })

  onClick('audit-load', loadAudit)

  $('log-clear').addEventListener('click', () => {
    $('log').replaceChildren()
    $('log-empty').hidden = false
    announce('Log cleared')
  })
}

async function main() {
  $('page-origin').textContent = location.origin
  renderStatus()
  renderCsrf()
  renderSessions(null)
  renderAudit(null)
  showMailLinkView()
  wire()
  const cardContext = {
    api,
    apiBaseUrl: () => state.apiBaseUrl,
    reportBug,
    signedOut: clearOnUnauthorized,
    currentUser: () => state.user,
    async refreshUser() {
      const { ok, status, data } = await api('GET', '/me')
      if (ok) setUser(data)
      else clearOnUnauthorized(status)
    },
  }
  apiKeysCard = createApiKeysCard(cardContext)
  userCards.push(apiKeysCard, createAdminUsersCard(cardContext))

  const config = await loadConfig()
  state.apiBaseUrl = config.apiBaseUrl
  $('api-origin').textContent = state.apiBaseUrl
  $('config-note').textContent = config.note
  apiKeysCard.configured()
  configReady()

  try {
    await fetchCsrf()
  } finally {
    csrfReady()
    // A hook for browser tests: the page has its config and has tried GET /csrf.
    document.documentElement.dataset.ready = 'true'
  }
  await verifyFromLink()
}

main().catch(reportBug)
