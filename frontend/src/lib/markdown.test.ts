import { describe, expect, it } from 'vitest'

import { renderMarkdown } from './markdown'

function dom(html: string): HTMLElement {
  const div = document.createElement('div')
  div.innerHTML = html
  return div
}

describe('renderMarkdown', () => {
  it('renders ordinary markdown', () => {
    const html = renderMarkdown('**bold** and `code`\n\n- one\n- two')
    expect(html).toContain('<strong>bold</strong>')
    expect(html).toContain('<code>code</code>')
    expect(dom(html).querySelectorAll('li')).toHaveLength(2)
  })

  it('shows raw HTML as text, never as markup', () => {
    const html = renderMarkdown('<script>alert(1)</script> <b onclick="x()">hi</b>')
    const root = dom(html)
    expect(root.querySelector('script')).toBeNull()
    expect(root.querySelector('b')).toBeNull()
    expect(root.textContent).toContain('<script>alert(1)</script>')
  })

  it('drops images, keeping their alt text', () => {
    const root = dom(renderMarkdown('![tracking pixel](http://evil.test/p.png)'))
    expect(root.querySelector('img')).toBeNull()
    expect(root.textContent).toContain('tracking pixel')
  })

  it('keeps only http(s) and mailto links, opened safely', () => {
    const root = dom(
      renderMarkdown(
        '[ok](https://example.org) [bad](javascript:alert(1)) [data](data:text/html,x)',
      ),
    )
    const links = [...root.querySelectorAll('a')]
    const ok = links.find((a) => a.textContent === 'ok')!
    expect(ok.getAttribute('href')).toBe('https://example.org')
    expect(ok.getAttribute('rel')).toBe('noopener noreferrer nofollow')
    expect(ok.getAttribute('target')).toBe('_blank')
    for (const name of ['bad', 'data']) {
      const link = links.find((a) => a.textContent === name)
      expect(link?.getAttribute('href') ?? null).toBeNull()
    }
    expect(root.innerHTML).not.toMatch(/javascript:|data:text/)
  })

  it('renders nothing for an empty source', () => {
    expect(renderMarkdown(null)).toBe('')
    expect(renderMarkdown('')).toBe('')
  })
})
