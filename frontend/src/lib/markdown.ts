// Markdown of comments and descriptions, rendered safely: no raw HTML (it is shown as text), no
// images, links only to http(s) and mailto, opened in a new tab without a referrer. Two layers:
// marked never emits the HTML people write, and DOMPurify keeps only the tags below.
import DOMPurify from 'dompurify'
import { Marked } from 'marked'

const escapeHtml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const marked = new Marked({
  async: false,
  gfm: true,
  breaks: true,
  renderer: {
    html({ text }) {
      return escapeHtml(text)
    },
    image({ text }) {
      return escapeHtml(text)
    },
  },
})

const ALLOWED_TAGS = [
  'a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr',
  'i', 'li', 'ol', 'p', 'pre', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
] // prettier-ignore

const SAFE_URL = /^(?:https?:|mailto:)/i

let hooked = false
function installHooks(): void {
  if (hooked) return
  hooked = true
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') ?? ''
      if (!SAFE_URL.test(href.trim())) {
        node.removeAttribute('href')
      } else {
        node.setAttribute('target', '_blank')
        node.setAttribute('rel', 'noopener noreferrer nofollow')
      }
    }
  })
}

export function renderMarkdown(source: string | null | undefined): string {
  if (!source) return ''
  installHooks()
  const html = marked.parse(source) as string
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ['href', 'title', 'target', 'rel', 'align'],
    ALLOW_DATA_ATTR: false,
  })
}
