// `npm run lighthouse`: Lighthouse (desktop and mobile presets) on the dashboard and a repository page,
// signed in, against a real stack (tests/e2e/ui_stack.py, as `npm run e2e` uses), plus the
// initial JavaScript's gzip size. Fails below the targets; prints the numbers either way.
//
// Puppeteer-free: chromium (CHROMIUM, default /usr/bin/chromium) is started here with
// --remote-debugging-port; playwright-core signs in over CDP in its default profile, and
// Lighthouse audits pages in that same browser (its storage kept, so the session cookie holds).
// Reports: lighthouse/<page>.html and .json (git-ignored).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'

import lighthouse, { desktopConfig } from 'lighthouse'
import { chromium } from 'playwright-core'

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const root = resolve(here, '..')
const out = resolve(here, 'lighthouse')
const TARGETS = { accessibility: 95, performance: 90, 'best-practices': 95 }
const INITIAL_JS_GZIP_BUDGET = 150 * 1024
const chromiumPath = process.env.CHROMIUM ?? process.env.CHROME_PATH ?? '/usr/bin/chromium'
const failures = []
// The targets hold for the desktop preset. The mobile preset (4x CPU slowdown, simulated slow 4G)
// is printed too, and enforced only with LIGHTHOUSE_MOBILE=enforce: on a busy shared machine its
// total blocking time swings with the load (performance 80 to 97 between runs of the same build).
const enforced = (preset) => preset === 'desktop' || process.env.LIGHTHOUSE_MOBILE === 'enforce'

// --- the initial JavaScript: index.html's scripts and what they import statically -------------
function initialJs() {
  const dist = join(here, 'dist')
  const html = readFileSync(join(dist, 'index.html'), 'utf8')
  const queue = [...html.matchAll(/<script[^>]+src="\/([^"]+\.js)"/g)].map((m) => m[1])
  queue.push(
    ...[...html.matchAll(/rel="modulepreload"[^>]*href="\/([^"]+\.js)"/g)].map((m) => m[1]),
  )
  const seen = new Map()
  while (queue.length) {
    const file = queue.shift()
    if (seen.has(file)) continue
    const code = readFileSync(join(dist, file))
    seen.set(file, { raw: code.length, gzip: gzipSync(code, { level: 9 }).length })
    // static imports only (`import"./x.js"`, `from"./x.js"`), not `import("./x.js")`
    for (const match of code.toString().matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) {
      queue.push(join(dirname(file), match[1]))
    }
  }
  return seen
}

const files = initialJs()
let raw = 0
let gzip = 0
for (const [file, size] of files) {
  raw += size.raw
  gzip += size.gzip
  console.log(
    `  ${file}: ${(size.raw / 1024).toFixed(1)} KB, gzip ${(size.gzip / 1024).toFixed(1)} KB`,
  )
}
console.log(
  `initial JS: ${files.size} file(s), ${(raw / 1024).toFixed(1)} KB, gzip ${(gzip / 1024).toFixed(1)} KB (budget ${INITIAL_JS_GZIP_BUDGET / 1024} KB)`,
)
if (gzip > INITIAL_JS_GZIP_BUDGET) failures.push(`initial JS gzip ${(gzip / 1024).toFixed(1)} KB`)

// --- the stack ---------------------------------------------------------------------------------
const scratch = mkdtempSync(join(tmpdir(), 'portus-lighthouse-'))
const stateFile = join(scratch, 'state.json')
const stackProcess = spawn(
  process.env.PORTUS_PYTHON ?? join(root, '.venv/bin/python'),
  ['-m', 'tests.e2e.ui_stack', stateFile],
  {
    cwd: root,
    env: {
      ...process.env,
      PORTUS_TEST_DATABASE_URL:
        process.env.PORTUS_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test',
    },
    stdio: ['pipe', 'inherit', 'inherit'],
  },
)
let browserProcess
async function stopAll() {
  browserProcess?.kill('SIGTERM')
  if (stackProcess.exitCode === null) {
    const gone = new Promise((done) => stackProcess.once('exit', done))
    stackProcess.stdin.end()
    await gone
  }
  rmSync(scratch, { recursive: true, force: true })
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

try {
  const deadline = Date.now() + 90_000
  while (!existsSync(stateFile)) {
    if (stackProcess.exitCode !== null) throw new Error('the stack exited before it was up')
    if (Date.now() > deadline) throw new Error('the stack did not come up within 90 s')
    await sleep(200)
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8'))
  const base = state.portus
  const admin = { username: 'admin', password: 'admin-pass-1' }

  // data to show: the administrator, the registry, a pushed image (through the API and skopeo)
  const api = async (method, path, body, headers = {}) => {
    const response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      body: body ? JSON.stringify(body) : undefined,
    })
    if (!response.ok)
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
    return response.json()
  }
  const boot = await api('POST', '/users/bootstrap', {
    user: { ...admin, email: 'admin@example.com' },
  })
  const auth = { 'Portus-Auth': `admin:${boot.plain_token}` }
  await api(
    'POST',
    '/registries',
    { registry: { name: 'e2e', hostname: state.registry, use_ssl: false } },
    auth,
  )
  const [binary, ...global] = state.skopeo
  await promisify(execFile)(
    binary,
    [
      ...global,
      'copy',
      '--authfile',
      state.skopeo_authfile,
      '--dest-tls-verify=false',
      '--dest-creds',
      `${admin.username}:${admin.password}`,
      `oci:${state.layout}:latest`,
      `docker://${state.registry}/admin/hello:latest`,
    ],
    { env: state.skopeo_env, timeout: 60_000 },
  )
  let repository
  for (let i = 0; i < 100 && !repository; i++) {
    const list = await api('GET', '/repositories', undefined, auth)
    repository = list.find((r) => r.name === 'hello')
    if (!repository) await sleep(200)
  }
  if (!repository) throw new Error('the pushed repository did not show up')

  // chromium with a debugging port; sign in through the UI in its default profile
  const port = 9200 + Math.floor(Math.random() * 700)
  browserProcess = spawn(
    chromiumPath,
    [
      `--remote-debugging-port=${port}`,
      '--headless=new',
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      `--user-data-dir=${join(scratch, 'profile')}`,
      'about:blank',
    ],
    { stdio: 'ignore' },
  )
  let browser
  for (let i = 0; i < 100 && !browser; i++) {
    browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`).catch(() => undefined)
    if (!browser) await sleep(100)
  }
  if (!browser) throw new Error('chromium did not open its debugging port')
  const tab = await browser.contexts()[0].newPage()
  await tab.goto(`${base}/sign_in`)
  await tab.getByLabel('Username', { exact: true }).fill(admin.username)
  await tab.getByLabel('Password', { exact: true }).fill(admin.password)
  await tab.getByRole('button', { name: 'Sign in' }).click()
  await tab.waitForURL(/\/dashboard/)
  await tab.close()

  mkdirSync(out, { recursive: true })
  const pages = { dashboard: '/dashboard', repository: `/repositories/${repository.id}` }
  const presets = { desktop: desktopConfig, mobile: undefined } // mobile: Lighthouse's default
  for (const [preset, config] of Object.entries(presets))
    for (const [page, path] of Object.entries(pages)) {
      const name = `${page}-${preset}`
      const result = await lighthouse(
        `${base}${path}`,
        {
          port,
          output: ['html', 'json'],
          logLevel: 'error',
          disableStorageReset: true, // keep the session cookie
          onlyCategories: Object.keys(TARGETS),
        },
        config,
      )
      if (!result) throw new Error(`lighthouse gave no result for ${path}`)
      const [html, json] = result.report
      writeFileSync(join(out, `${name}.html`), html)
      writeFileSync(join(out, `${name}.json`), json)
      const landed = result.lhr.finalDisplayedUrl
      if (!landed.endsWith(path)) failures.push(`${name}: landed on ${landed}, not signed in?`)
      const scores = Object.entries(TARGETS).map(([category, target]) => {
        const score = Math.round((result.lhr.categories[category]?.score ?? 0) * 100)
        if (score < target && enforced(preset))
          failures.push(`${name} ${category} ${score} < ${target}`)
        return `${category} ${score} (≥ ${target})`
      })
      const metrics = [
        'first-contentful-paint',
        'largest-contentful-paint',
        'total-blocking-time',
        'cumulative-layout-shift',
      ]
        .map((id) => `${id.replace(/-/g, ' ')} ${result.lhr.audits[id]?.displayValue ?? '?'}`)
        .join(', ')
      const note = enforced(preset) ? '' : ' [not enforced]'
      console.log(`lighthouse ${name} (${path}): ${scores.join(', ')}${note}`)
      console.log(`  ${metrics}`)
      for (const category of Object.keys(TARGETS)) {
        for (const ref of result.lhr.categories[category]?.auditRefs ?? []) {
          const audit = result.lhr.audits[ref.id]
          if (ref.weight > 0 && audit && audit.score !== null && audit.score < 1) {
            console.log(`  ${category}: ${audit.id} (${audit.score}): ${audit.title}`)
          }
        }
      }
    }
  await browser.close()
} catch (error) {
  failures.push(String(error?.stack ?? error))
} finally {
  await stopAll()
}

if (failures.length) {
  console.error(`lighthouse: FAILED\n  ${failures.join('\n  ')}`)
  process.exit(1)
}
console.log('lighthouse: all targets met; reports in lighthouse/')
