const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/**
 * Escapes text for an HTML element body or a quoted attribute value (OWASP Cross Site Scripting
 * Prevention Cheat Sheet, output encoding for HTML contexts): the five characters that can end a
 * text run, a tag or a quoted attribute.
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char)
}
