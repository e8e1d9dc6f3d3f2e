// DOM helpers shared by the demo's cards. Every value from the API goes in through textContent (or
// a form control's value), never as markup: a name or an email can never become HTML.

export const $ = (id) => {
  const el = document.getElementById(id)
  if (!el) throw new Error(`missing element #${id}`)
  return el
}

export function el(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined && text !== null) node.textContent = text
  return node
}

/** Turns the API's `detail` (string or FastAPI-style list) into readable lines. */
export function errorLines(data) {
  if (!data || typeof data !== 'object') return []
  const { detail } = data
  if (typeof detail === 'string') return [detail]
  if (Array.isArray(detail)) {
    return detail.map((item) => {
      if (item && typeof item === 'object') {
        const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== 'body').join('.') : ''
        const msg = typeof item.msg === 'string' ? item.msg : JSON.stringify(item)
        return loc ? `${loc}: ${msg}` : msg
      }
      return String(item)
    })
  }
  return []
}

/** What to tell the user about a failed call: the API's detail, or that there was no answer. */
export function failureText(status, data) {
  if (status === 0) return 'No response from the API: the response log has the details.'
  const lines = errorLines(data)
  return lines.length > 0 ? lines.join(' ') : `The API answered ${status}.`
}

export function resultKind(ok, status) {
  if (ok) return 'ok'
  return status === 0 ? 'network' : 'error'
}

/** The API's error code of a failed answer, or undefined. */
export function errorCode(data) {
  return data && typeof data === 'object' && typeof data.code === 'string' ? data.code : undefined
}

/** Shows a card's result box; `data-state` (ok, error, network, pending) is there for tests. */
export function showResult(id, kind, text) {
  const node = $(id)
  node.classList.toggle('result--error', kind === 'error')
  node.classList.toggle('result--network', kind === 'network')
  node.dataset.state = kind
  if (text !== undefined) node.textContent = text
  node.hidden = false
}

export function hideResult(id) {
  const node = $(id)
  node.hidden = true
  delete node.dataset.state
}

export function timeCell(iso, missing) {
  const cell = el('td')
  if (typeof iso !== 'string') {
    cell.textContent = missing
    return cell
  }
  const date = new Date(iso)
  const time = el('time', null, Number.isNaN(date.getTime()) ? iso : date.toLocaleString())
  time.dateTime = iso
  cell.append(time)
  return cell
}

export function textCell(text, className) {
  return el('td', className, typeof text === 'string' && text !== '' ? text : '—')
}

/** One placeholder row spanning the table, or nothing when there are rows to show. */
export function placeholderRow(columns, text) {
  const row = el('tr')
  const cell = el('td', 'table__empty', text)
  cell.colSpan = columns
  row.append(cell)
  return row
}

/** Disables a form's (or a button's) controls while a request is under way. */
export async function busy(target, task) {
  const controls =
    target instanceof HTMLButtonElement || target instanceof HTMLInputElement
      ? [target]
      : [...target.querySelectorAll('button')]
  for (const c of controls) c.disabled = true
  target.setAttribute('aria-busy', 'true')
  try {
    await task()
  } finally {
    for (const c of controls) c.disabled = false
    target.removeAttribute('aria-busy')
  }
}

export function value(id) {
  return /** @type {HTMLInputElement | HTMLTextAreaElement} */ ($(id)).value
}

export function setValue(id, text) {
  /** @type {HTMLInputElement | HTMLTextAreaElement} */
  const field = $(id)
  field.value = text
}
