// Screenshots of the UI at desktop and phone width, to look at what we build.
//
//   npm run build && npx vite preview --port 4173 &      # proxies /api to PORTUS_BACKEND
//   PORTUS_USER=admin PORTUS_PASSWORD=… npm run screenshots [-- name …]
//
// Launches Debian's chromium (CHROMIUM, default /usr/bin/chromium) headless through
// playwright-core; writes screenshots/<name>-<width>.png (git-ignored). Pages are visited
// signed out first (the `anon` ones), then signed in as PORTUS_USER. PAGES_EXTRA adds
// "name=path[,name=path]" (e.g. a repository id that exists in your data).
// Each page is also checked with axe-core: the violations go to screenshots/axe.json and the
// serious or critical ones are printed (the exit code is 1 when there are any).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const out = resolve(here, '../screenshots')
const base = process.env.BASE_URL ?? 'http://127.0.0.1:4173'
const user = process.env.PORTUS_USER
const password = process.env.PORTUS_PASSWORD
const widths = (process.env.WIDTHS ?? '1280,390').split(',').map(Number)
const only = process.argv.slice(2)

const pages = [
  { name: 'sign-in', path: '/sign_in', anon: true },
  { name: 'sign-up', path: '/sign_up', anon: true },
  { name: 'password-request', path: '/password/new', anon: true },
  { name: 'password-reset', path: '/password_reset?token=example', anon: true },
  { name: 'explore', path: '/explore', anon: true },
  { name: 'dashboard', path: '/dashboard' },
  { name: 'namespaces', path: '/namespaces' },
  { name: 'repositories', path: '/repositories' },
  { name: 'teams', path: '/teams' },
  { name: 'profile', path: '/profile' },
  { name: 'search', path: '/search?q=a' },
  { name: 'help', path: '/help' },
  { name: 'not-found', path: '/nothing-here' },
]
for (const pair of (process.env.PAGES_EXTRA ?? '').split(',').filter(Boolean)) {
  const [name, path] = pair.split('=')
  pages.push({ name, path, anon: name.startsWith('anon-') })
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
)
const findings = []

async function audit(tab, name, width) {
  await tab.addScriptTag({ content: axeSource })
  const result = await tab.evaluate(() =>
    globalThis.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'] }),
  )
  for (const violation of result.violations) {
    findings.push({
      page: name,
      width,
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')).slice(0, 5),
    })
  }
}

mkdirSync(out, { recursive: true })
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
})

async function shoot(context, page, width) {
  const tab = await context.newPage()
  await tab.setViewportSize({ width, height: width > 800 ? 900 : 844 })
  await tab.goto(base + page.path, { waitUntil: 'networkidle' })
  await tab.waitForTimeout(300)
  const file = resolve(out, `${page.name}-${width}.png`)
  await tab.screenshot({ path: file, fullPage: true })
  console.log(`${file}  (${tab.url().replace(base, '')})`)
  await audit(tab, page.name, width)
  await tab.close()
}

try {
  const wanted = pages.filter((page) => only.length === 0 || only.includes(page.name))
  const anonymous = await browser.newContext()
  for (const page of wanted.filter((p) => p.anon)) {
    for (const width of widths) await shoot(anonymous, page, width)
  }
  await anonymous.close()
  const signedIn = wanted.filter((p) => !p.anon)
  if (signedIn.length && user && password) {
    const context = await browser.newContext()
    const tab = await context.newPage()
    await tab.goto(`${base}/sign_in`, { waitUntil: 'networkidle' })
    await tab.getByLabel('Username').fill(user)
    await tab.getByLabel('Password').fill(password)
    await tab.getByRole('button', { name: /sign in|ldap login/i }).click()
    await tab.waitForURL((url) => !url.pathname.startsWith('/sign_in'))
    await tab.close()
    for (const page of signedIn) {
      for (const width of widths) await shoot(context, page, width)
    }
    await context.close()
  } else if (signedIn.length) {
    console.log('PORTUS_USER and PORTUS_PASSWORD unset: signed-in pages skipped')
  }
} finally {
  await browser.close()
}

writeFileSync(resolve(out, 'axe.json'), JSON.stringify(findings, null, 2))
const grave = findings.filter((f) => f.impact === 'serious' || f.impact === 'critical')
for (const f of findings) {
  console.log(
    `axe ${f.impact} ${f.id} on ${f.page}@${f.width}: ${f.help} [${f.targets.join(', ')}]`,
  )
}
console.log(`axe: ${findings.length} violations, ${grave.length} serious or critical`)
if (grave.length) process.exitCode = 1
