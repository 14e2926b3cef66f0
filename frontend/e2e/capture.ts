// Every page of the journey is captured: full-page screenshots at 1280 and 390 px into
// e2e-screenshots/ (git-ignored), and an axe-core audit at both widths; serious or critical
// violations fail the test (softly, so the journey goes on and shows them all).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import AxeBuilder from '@axe-core/playwright'
import { expect, type Page } from '@playwright/test'

export const screenshotDir = resolve(dirname(fileURLToPath(import.meta.url)), '../e2e-screenshots')
mkdirSync(screenshotDir, { recursive: true })

const WIDTHS = [
  { width: 1280, height: 900 },
  { width: 390, height: 844 },
]

interface Finding {
  page: string
  width: number
  id: string
  impact: string | null | undefined
  help: string
  targets: string[]
}
const findings: Finding[] = []
const audited: { page: string; width: number; passes: number; violations: number }[] = []

export async function capture(page: Page, name: string): Promise<void> {
  const original = page.viewportSize()
  await page.waitForLoadState('networkidle')
  // nothing still loading (AsyncBlock's busy state)
  await expect(page.locator('[aria-busy="true"]')).toHaveCount(0)
  for (const size of WIDTHS) {
    await page.setViewportSize(size)
    // from the top: a sticky header would land mid-page in a full-page shot of a scrolled page
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.mouse.move(0, 0) // no hover state left where the last click happened
    await page.waitForTimeout(150)
    await page.screenshot({
      path: resolve(screenshotDir, `${name}-${size.width}.png`),
      fullPage: true,
      animations: 'disabled',
      caret: 'hide',
    })
    const result = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
      .analyze()
    audited.push({
      page: name,
      width: size.width,
      passes: result.passes.length,
      violations: result.violations.length,
    })
    for (const violation of result.violations) {
      findings.push({
        page: name,
        width: size.width,
        id: violation.id,
        impact: violation.impact,
        help: violation.help,
        targets: violation.nodes.map((node) => node.target.join(' ')).slice(0, 5),
      })
    }
    const grave = result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.impact} ${v.id}: ${v.help} [${v.nodes.map((n) => n.target.join(' ')).join(', ')}]`,
      )
    expect.soft(grave, `axe on ${name} at ${size.width}px`).toEqual([])
  }
  if (original) await page.setViewportSize(original)
  writeFileSync(resolve(screenshotDir, 'axe.json'), JSON.stringify({ findings, audited }, null, 2))
}
