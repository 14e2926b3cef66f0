// `npm run e2e`: the Playwright journey (e2e/) against a real stack. Builds the UI first when
// dist/ is missing or older than the sources. Needs chromium, docker-registry, skopeo and
// LemonLDAP::NG's portal with plackup (Debian packages; .ci/test lists them) and the project's .venv; without them it says so and stops: a success locally, a
// failure under CI=true. Extra arguments go to `playwright test`.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const python = process.env.PORTUS_PYTHON ?? resolve(here, '../.venv/bin/python')
const needs = {
  chromium: process.env.CHROMIUM ?? '/usr/bin/chromium',
  'docker-registry': '/usr/bin/docker-registry',
  skopeo: '/usr/bin/skopeo',
  plackup: '/usr/bin/plackup',
  "LemonLDAP::NG's portal": '/usr/share/lemonldap-ng/portal/htdocs/index.psgi',
  'the project venv (python)': python,
}
const missing = Object.entries(needs)
  .filter(([, path]) => !existsSync(path))
  .map(([name, path]) => `${name} (${path})`)
if (missing.length) {
  console.error(`e2e: missing ${missing.join(', ')}`)
  if (process.env.CI === 'true') process.exit(1)
  console.error('e2e: skipped (it fails under CI=true)')
  process.exit(0)
}

function newest(path) {
  const info = statSync(path)
  if (!info.isDirectory()) return info.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}
const built = join(here, 'dist/index.html')
const sources = ['src', 'index.html', 'public', 'vite.config.ts'].map((p) => join(here, p))
if (!existsSync(built) || Math.max(...sources.map(newest)) > statSync(built).mtimeMs) {
  console.log('e2e: building the UI (dist/ is missing or older than src/)')
  const build = spawnSync('npm', ['run', 'build'], { cwd: here, stdio: 'inherit' })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

const started = Date.now()
const run = spawnSync('npx', ['playwright', 'test', ...process.argv.slice(2)], {
  cwd: here,
  stdio: 'inherit',
})
console.log(`e2e: ${((Date.now() - started) / 1000).toFixed(0)} s; screenshots in e2e-screenshots/`)
process.exit(run.status ?? 1)
