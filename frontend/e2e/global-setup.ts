// Starts the stack the journey runs against (tests/e2e/ui_stack.py: `portus serve` with the
// built UI on a fresh database, a real registry using it for token auth and notifications, a
// webhook receiver, a tiny OCI image) and stops it afterwards (the database is dropped).
// The tests read what they need from PORTUS_E2E_* in the environment.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import type { StackState } from './stack'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export default async function globalSetup(): Promise<() => Promise<void>> {
  const python = process.env.PORTUS_PYTHON ?? join(root, '.venv/bin/python')
  const scratch = mkdtempSync(join(tmpdir(), 'portus-ui-e2e-state-'))
  const stateFile = join(scratch, 'state.json')
  const child = spawn(python, ['-m', 'tests.e2e.ui_stack', stateFile], {
    cwd: root,
    env: {
      ...process.env,
      PORTUS_TEST_DATABASE_URL:
        process.env.PORTUS_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test',
      PORTUS_E2E_LOGS: process.env.PORTUS_E2E_LOGS ?? resolve(root, 'frontend/test-results/logs'),
    },
    stdio: ['pipe', 'inherit', 'inherit'],
  })
  const ended: { code: number | null } = { code: null }
  child.on('exit', (code) => (ended.code = code ?? -1))

  const deadline = Date.now() + 90_000
  while (!existsSync(stateFile)) {
    if (ended.code !== null)
      throw new Error(`the e2e stack exited (${ended.code}) before it was up`)
    if (Date.now() > deadline) {
      child.kill('SIGTERM')
      throw new Error('the e2e stack did not come up within 90 s')
    }
    await new Promise((done) => setTimeout(done, 200))
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as StackState
  process.env.PORTUS_E2E_URL = state.portus
  process.env.PORTUS_E2E_STATE = JSON.stringify(state)

  return async () => {
    if (ended.code === null) {
      const gone = new Promise((done) => child.once('exit', done))
      child.stdin?.end() // the stack tears down when its stdin closes
      const timer = setTimeout(() => child.kill('SIGTERM'), 20_000)
      await gone
      clearTimeout(timer)
    }
    rmSync(scratch, { recursive: true, force: true })
  }
}
