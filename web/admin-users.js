// The "Users" card, for a signed-in superuser only: every account a page at a time, with switches
// for active and superuser and a button ending an account's sessions. Hiding the card is only
// manners: the API refuses these routes to anyone else (OWASP Authorization Cheat Sheet, "Deny by
// default"; the server decides, never the page).

import {
  $,
  busy,
  el,
  errorCode,
  failureText,
  hideResult,
  placeholderRow,
  resultKind,
  showResult,
  textCell,
  value,
} from './ui.js'

const PAGE_SIZE = 20
const COLUMNS = 5

const FLAG_LABELS = { is_active: 'active', is_superuser: 'superuser' }

/**
 * @param {{
 *   api: (method: string, path: string, options?: object) => Promise<{ok: boolean, status: number, data: any}>,
 *   reportBug: (err: unknown) => void,
 *   signedOut: (status: number) => void,
 *   currentUser: () => any,
 *   refreshUser: () => Promise<void>,
 * }} ctx
 */
export function createAdminUsersCard(ctx) {
  /** The filter and the cursor of the page shown (null: the first page). */
  const view = { prefix: '', cursor: null, page: 1, nextCursor: null }
  /** Bumped on every reset (another user, or none): an answer asked for before is dropped. */
  let generation = 0

  const isAdmin = (user) => user?.is_superuser === true && user.is_active !== false

  /** Why a change was refused, from the API's detail; a stale login gets the way out too. */
  function refusal(status, data) {
    const text = failureText(status, data)
    if (errorCode(data) === 'FRESH_SESSION_REQUIRED') return `${text}: log out, log in again, then retry.`
    return text
  }

  /** After a change to one's own account: the API may have ended this session, so ask it. */
  async function afterChange(userId) {
    if (ctx.currentUser()?.id === userId) await ctx.refreshUser()
  }

  function flagSwitch(user, field) {
    const input = el('input', 'switch')
    input.type = 'checkbox'
    input.checked = user[field] === true
    input.dataset.field = field
    input.setAttribute('aria-label', `${FLAG_LABELS[field]}: ${user.email}`)
    input.addEventListener('change', () => {
      busy(input, () => setFlag(user, field, input)).catch(ctx.reportBug)
    })
    const cell = el('td')
    cell.append(input)
    return cell
  }

  function verifiedCell(user) {
    const cell = el('td')
    const verified = user.is_verified === true
    cell.append(
      el('span', verified ? 'pill pill--ok' : 'pill pill--muted', verified ? 'verified' : 'not verified'),
    )
    return cell
  }

  function userRow(user) {
    const row = el('tr')
    row.dataset.userId = String(user.id)
    row.dataset.email = String(user.email)
    const action = el('td')
    const end = el('button', 'button button--small button--danger', 'End sessions')
    end.type = 'button'
    end.setAttribute('aria-label', `End every session of ${user.email}`)
    end.addEventListener('click', () => {
      busy(end, () => endSessions(user)).catch(ctx.reportBug)
    })
    action.append(end)
    row.append(
      textCell(String(user.email)),
      flagSwitch(user, 'is_active'),
      verifiedCell(user),
      flagSwitch(user, 'is_superuser'),
      action,
    )
    return row
  }

  /** `users`: a page from the API, or null while there is none to show. */
  function renderUsers(users) {
    const body = $('admin-users-body')
    if (!Array.isArray(users)) {
      body.replaceChildren(placeholderRow(COLUMNS, 'No page loaded.'))
    } else if (users.length === 0) {
      body.replaceChildren(
        placeholderRow(COLUMNS, view.prefix ? 'No account starts with that.' : 'No account.'),
      )
    } else {
      body.replaceChildren(...users.map(userRow))
    }
    $('admin-next').hidden = !view.nextCursor
    $('admin-first').hidden = view.cursor === null
    $('admin-page').textContent = Array.isArray(users)
      ? `Page ${view.page} · ${users.length} account${users.length === 1 ? '' : 's'}${view.prefix ? ` starting with “${view.prefix}”` : ''}`
      : ''
  }

  async function loadPage(cursor, page) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) })
    if (cursor) query.set('cursor', cursor)
    if (view.prefix) query.set('email_prefix', view.prefix)
    const asked = generation
    const { ok, status, data } = await ctx.api('GET', `/admin/users?${query}`)
    // Answered for a user who has signed out (or been replaced) meanwhile: not shown.
    if (asked !== generation) return
    if (ok && data && Array.isArray(data.users)) {
      view.cursor = cursor
      view.page = page
      view.nextCursor = typeof data.next_cursor === 'string' ? data.next_cursor : null
      hideResult('admin-result')
      renderUsers(data.users)
      return
    }
    ctx.signedOut(status)
    showResult('admin-result', resultKind(ok, status), failureText(status, data))
  }

  async function setFlag(user, field, input) {
    const wanted = input.checked
    const { ok, status, data } = await ctx.api('PATCH', `/admin/users/${encodeURIComponent(user.id)}`, {
      json: { [field]: wanted },
    })
    if (ok && data && typeof data.email === 'string') {
      const row = input.closest('tr')
      row?.replaceWith(userRow(data))
      showResult(
        'admin-result',
        'ok',
        `${data.email} is ${data[field] ? '' : 'no longer '}${FLAG_LABELS[field]}.${
          field === 'is_active' && !data.is_active ? ' Its sessions and API keys have ended.' : ''
        }`,
      )
      await afterChange(user.id)
      return
    }
    // Refused: the switch shows the account as it still is.
    input.checked = !wanted
    ctx.signedOut(status)
    showResult('admin-result', resultKind(ok, status), refusal(status, data))
  }

  async function endSessions(user) {
    const { ok, status, data } = await ctx.api(
      'DELETE',
      `/admin/users/${encodeURIComponent(user.id)}/sessions`,
    )
    if (ok) {
      showResult('admin-result', 'ok', `Every session of ${user.email} has ended (its API keys stay).`)
      await afterChange(user.id)
      return
    }
    ctx.signedOut(status)
    showResult('admin-result', resultKind(ok, status), refusal(status, data))
  }

  const filter = /** @type {HTMLFormElement} */ ($('admin-filter'))
  filter.addEventListener('submit', (event) => {
    event.preventDefault()
    view.prefix = value('admin-prefix').trim()
    busy(filter, () => loadPage(null, 1)).catch(ctx.reportBug)
  })
  const next = /** @type {HTMLButtonElement} */ ($('admin-next'))
  next.addEventListener('click', () => {
    if (view.nextCursor) busy(next, () => loadPage(view.nextCursor, view.page + 1)).catch(ctx.reportBug)
  })
  const first = /** @type {HTMLButtonElement} */ ($('admin-first'))
  first.addEventListener('click', () => {
    busy(first, () => loadPage(null, 1)).catch(ctx.reportBug)
  })

  function reset() {
    generation += 1
    view.cursor = null
    view.page = 1
    view.nextCursor = null
    hideResult('admin-result')
    renderUsers(null)
  }
  reset()

  return {
    /** Shown to a superuser only; a new one (or the card appearing) starts from the first page. */
    userChanged(user, previousId) {
      const card = $('admin-card')
      const wasShown = !card.hidden
      const show = isAdmin(user)
      card.hidden = !show
      if (!show) {
        reset()
        return
      }
      if (wasShown && user.id === previousId) return
      reset()
      loadPage(null, 1).catch(ctx.reportBug)
    },
  }
}
