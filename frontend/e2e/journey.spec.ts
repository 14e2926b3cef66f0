// The web UI's journey, through the UI as a person would, against a real `portus serve`, a real
// registry and skopeo (see global-setup.ts). The steps build on each other and run in order.
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test'

import { capture } from './capture'
import { push, stack } from './stack'

const ADMIN = { username: 'admin', email: 'admin@example.com', password: 'admin-pass-1' }
const VIEWER = { username: 'vera', email: 'vera@example.com', password: 'viewer-pass-1' }
const TEAM = 'qa'
const NAMESPACE = 'qa-ns'
const REPOSITORY = `${NAMESPACE}/hello`

test.describe.configure({ mode: 'serial' })

let context: BrowserContext
let page: Page
let repositoryPath = '' // /repositories/<id>
let namespacePath = '' // /namespaces/<id>
let webhookPath = '' // /namespaces/<id>/webhooks/<id>

test.use({ baseURL: stack().portus })

function basic(user: { username: string; password: string }): Record<string, string> {
  const encoded = Buffer.from(`${user.username}:${user.password}`).toString('base64')
  return { Authorization: `Basic ${encoded}` }
}

async function signIn(target: Page, user: { username: string; password: string }): Promise<void> {
  await target.goto('/sign_in')
  await target.getByLabel('Username', { exact: true }).fill(user.username)
  await target.getByLabel('Password', { exact: true }).fill(user.password)
  await target.getByRole('button', { name: 'Sign in' }).click()
  await expect(target).toHaveURL(/\/dashboard/)
}

async function freshContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ baseURL: stack().portus })
}

test.beforeAll(async ({ browser }) => {
  context = await freshContext(browser)
  page = await context.newPage()
})

test.afterAll(async () => {
  await context.close()
})

test('the first person creates the administrator', async () => {
  await page.goto('/')
  await expect(page).toHaveURL(/\/sign_up/)
  await expect(page.getByRole('heading', { name: 'Create admin' })).toBeVisible()
  await capture(page, 'create-admin')
  await page.getByLabel('Username', { exact: true }).fill(ADMIN.username)
  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email)
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password)
  await page.getByLabel('Confirm the password').fill(ADMIN.password)
  await page.getByRole('button', { name: 'Create admin' }).click()
  await expect(page.getByRole('heading', { name: 'Administrator created' })).toBeVisible()
  await capture(page, 'admin-created')
  await page.getByRole('link', { name: 'Continue to the dashboard' }).click()
  await expect(page).toHaveURL(/\/dashboard/)
  await capture(page, 'dashboard-new')
})

test('the administrator connects the registry', async () => {
  await page.goto('/admin/registries')
  const form = page.getByRole('form', { name: 'New registry' })
  await form.getByLabel('Name', { exact: true }).fill('e2e')
  await form.getByLabel('Hostname', { exact: true }).fill(stack().registry)
  await form.getByRole('button', { name: 'Create registry' }).click()
  await expect(page.getByRole('heading', { name: 'e2e', exact: true })).toBeVisible()
  await capture(page, 'admin-registries')
})

test('the administrator creates a user', async () => {
  await page.goto('/admin/users')
  await page.getByRole('button', { name: 'Create user or bot' }).click()
  const form = page.getByRole('form', { name: 'New user' })
  await form.getByLabel('Username', { exact: true }).fill(VIEWER.username)
  await form.getByLabel('Email', { exact: true }).fill(VIEWER.email)
  await form.getByLabel('Password', { exact: true }).fill(VIEWER.password)
  await form.getByRole('button', { name: 'Create', exact: true }).click()
  await expect(page.getByRole('link', { name: VIEWER.username, exact: true })).toBeVisible()
  await capture(page, 'admin-users')
})

test('the administrator edits the user and resets their password', async () => {
  await page.goto('/admin/users')
  await page.getByRole('link', { name: `Edit ${VIEWER.username}` }).click()
  await expect(page).toHaveURL(/\/admin\/users\/\d+\/edit$/)
  await expect(page.getByRole('heading', { name: `Edit ${VIEWER.username}` })).toBeVisible()
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue(VIEWER.email)
  await page.getByLabel('Email', { exact: true }).fill(`v.${VIEWER.email}`)
  await page.getByRole('button', { name: 'Save', exact: true }).click()
  await expect(page.getByText(`User ${VIEWER.username} saved.`)).toBeVisible()
  await capture(page, 'admin-user-edit')
  await page.getByLabel('Email', { exact: true }).fill(VIEWER.email)
  await page.getByRole('button', { name: 'Save', exact: true }).click()
  await expect(page.getByText(`User ${VIEWER.username} saved.`).first()).toBeVisible()
  // the password reset: the viewer signs in with it later in the journey
  await page.getByLabel('New password', { exact: true }).fill(VIEWER.password)
  await page.getByLabel('Confirm the new password').fill(VIEWER.password)
  await page.getByRole('button', { name: 'Set new password' }).click()
  await expect(page.getByText(/New password set for/)).toBeVisible()
})

test('a team, with the user as a viewer', async () => {
  await page.goto('/teams')
  await page.getByRole('button', { name: 'Create team' }).click()
  const form = page.getByRole('form', { name: 'New team' })
  await form.getByLabel('Name', { exact: true }).fill(TEAM)
  await form.getByRole('button', { name: 'Create team' }).click()
  await page.goto('/teams')
  await capture(page, 'teams')
  await page.getByRole('link', { name: TEAM, exact: true }).click()
  await expect(page.getByRole('heading', { name: TEAM, level: 1 })).toBeVisible()
  await page.getByLabel('Username', { exact: true }).fill(VIEWER.username)
  await page.getByLabel('Role', { exact: true }).selectOption('viewer')
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(page.getByLabel(`Role of ${VIEWER.username}`)).toHaveValue('viewer')
  await capture(page, 'team')
})

test('a namespace for the team', async () => {
  await page.goto('/namespaces')
  await page.getByRole('button', { name: 'Create namespace' }).click()
  const form = page.getByRole('form', { name: 'New namespace' })
  await form.getByLabel('Name', { exact: true }).fill(NAMESPACE)
  await form.getByLabel('Team', { exact: true }).selectOption(TEAM)
  await form.getByRole('button', { name: 'Create namespace' }).click()
  // the new namespace's page
  await expect(page.getByRole('heading', { name: NAMESPACE, level: 1 })).toBeVisible()
  namespacePath = new URL(page.url()).pathname
  expect(namespacePath).toMatch(/^\/namespaces\/\d+$/)
  await capture(page, 'namespace')
  await page.goto('/namespaces')
  await expect(page.getByRole('link', { name: NAMESPACE, exact: true })).toBeVisible()
  await capture(page, 'namespaces')
})

test('a push with skopeo shows the repository and its tags', async () => {
  const creds = `${ADMIN.username}:${ADMIN.password}`
  await push(REPOSITORY, 'latest', creds)
  await push(REPOSITORY, 'v2', creds)
  // the registry notifies Portus; the namespace page lists the repository once it has
  await expect(async () => {
    await page.goto(namespacePath)
    await expect(page.getByRole('link', { name: 'hello' })).toBeVisible({ timeout: 1000 })
  }).toPass({ timeout: 20_000 })
  await page.getByRole('link', { name: 'hello' }).first().click()
  await expect(page.getByRole('heading', { name: 'hello', level: 1 })).toBeVisible()
  repositoryPath = new URL(page.url()).pathname
  await expect(page.getByRole('button', { name: /Copy .*:latest$/ })).toBeVisible()
  await expect(page.getByRole('button', { name: /Copy .*:v2$/ })).toBeVisible()
  await capture(page, 'repository')
  await page.goto('/repositories')
  await expect(page.getByRole('link', { name: /hello/ }).first()).toBeVisible()
  await capture(page, 'repositories')
})

test('a tag page shows the image details from the registry', async () => {
  await page.goto(repositoryPath)
  await page.getByRole('link', { name: 'Details of tag latest' }).click()
  await expect(page).toHaveURL(/\/repositories\/\d+\/tags\/\d+$/)
  await expect(page.getByRole('heading', { name: 'latest', level: 1 })).toBeVisible()
  await expect(page.locator('.pull-command')).toHaveText(
    `docker pull ${stack().registry}/${REPOSITORY}:latest`,
  )
  const details = page.getByRole('region', { name: 'Image details' })
  await expect(details.getByRole('heading', { name: 'Layers' })).toBeVisible()
  await expect(details.getByRole('table')).toContainText('Total (1 layer)')
  await capture(page, 'tag')

  // the registry cannot answer (its 502, as the API sends it): the tag stays, with a warning
  await page.route('**/api/v1/tags/*/details', (route) =>
    route.fulfill({
      status: 502,
      contentType: 'application/json',
      body: JSON.stringify({ message: 'The registry did not answer' }),
    }),
  )
  await page.reload()
  await expect(page.getByRole('heading', { name: 'latest', level: 1 })).toBeVisible()
  await expect(details.getByRole('alert')).toContainText('The registry cannot be reached')
  await capture(page, 'tag-registry-down')
  await page.unroute('**/api/v1/tags/*/details')
})

test('copy the pull command, star, comment', async () => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'])
  await page.goto(repositoryPath)
  await page.getByRole('button', { name: 'Copy pull command' }).click()
  await expect(page.getByRole('button', { name: 'Copied' })).toBeVisible()
  const copied = await page.evaluate(() => navigator.clipboard.readText())
  expect(copied).toContain(`${stack().registry}/${REPOSITORY}`)
  expect(copied).toMatch(/^docker pull /)

  await page.getByRole('button', { name: 'Star' }).click()
  await expect(page.getByRole('button', { name: 'Starred' })).toBeVisible()

  await page.getByLabel('Add a comment').fill('Works on **my** machine.')
  await page.getByRole('button', { name: 'Comment', exact: true }).click()
  await expect(page.getByText('Works on my machine.')).toBeVisible()
  await capture(page, 'repository-starred-commented')
})

test('delete one tag', async () => {
  await page.goto(repositoryPath)
  await page.getByLabel('Select tag v2').check()
  await page.getByRole('button', { name: 'Delete selected tags' }).click()
  const dialog = page.getByRole('dialog')
  await expect(dialog).toBeVisible()
  await capture(page, 'repository-delete-tag')
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click()
  await expect(page.getByRole('button', { name: /Copy .*:v2$/ })).toHaveCount(0)
  await expect(page.getByRole('button', { name: /Copy .*:latest$/ })).toBeVisible()
})

test('a webhook on the namespace', async () => {
  await page.goto(namespacePath)
  await page.getByRole('link', { name: /^Webhooks/ }).click()
  await expect(page.getByRole('heading', { name: 'Webhooks', level: 1 })).toBeVisible()
  await page.getByRole('button', { name: 'Create webhook' }).click()
  const form = page.getByRole('form', { name: 'New webhook' })
  await form.getByLabel('Name', { exact: true }).fill('ci')
  await form.getByLabel('URL', { exact: true }).fill(stack().receiver)
  await form.getByRole('button', { name: 'Create webhook' }).click()
  await expect(page.getByText(/signing secret/)).toBeVisible()
  await capture(page, 'webhooks')
  await page.getByRole('link', { name: 'ci', exact: true }).click()
  await expect(page.getByRole('heading', { name: 'Deliveries' })).toBeVisible()
  webhookPath = new URL(page.url()).pathname
  await capture(page, 'webhook')
})

test('an application token made in the profile pushes through skopeo', async () => {
  await page.goto('/profile')
  await page.getByLabel('New token for').fill('ci')
  await page.getByRole('button', { name: 'Create token' }).click()
  const token = (await page.locator('code.secret').textContent())?.trim() ?? ''
  expect(token.length).toBeGreaterThan(10)
  await capture(page, 'profile-token')
  await push(REPOSITORY, 'v2', `${ADMIN.username}:${token}`)
  await expect(async () => {
    await page.goto(repositoryPath)
    await expect(page.getByRole('button', { name: /Copy .*:v2$/ })).toBeVisible({ timeout: 1000 })
  }).toPass({ timeout: 20_000 })

  // ... and that push reached the webhook: its page lists the delivery
  const deliveries = page.getByRole('region', { name: 'Deliveries' })
  await expect(async () => {
    await page.goto(webhookPath)
    await expect(deliveries.getByText('delivered')).toBeVisible({ timeout: 1000 })
  }).toPass({ timeout: 30_000 })
  await expect(deliveries.getByText('push', { exact: true })).toBeVisible()
  await deliveries.getByRole('button', { name: 'Details' }).first().click()
  await expect(deliveries.getByRole('button', { name: 'Hide' })).toBeVisible()
  await expect(deliveries.getByRole('heading', { name: 'Request body' }).first()).toBeVisible()
  await expect(deliveries.getByRole('heading', { name: 'Response body' }).first()).toBeVisible()
  await expect(deliveries.getByRole('region', { name: /^Request body Attempt 1/ })).toBeVisible()
  await capture(page, 'webhook-delivery')
})

test('a public namespace is browsable anonymously', async ({ browser }) => {
  await page.goto(namespacePath)
  const visibility = page.getByRole('radiogroup', { name: 'Visibility of this namespace' })
  await visibility.getByRole('radio', { name: 'Public' }).click()
  await expect(visibility.getByRole('radio', { name: 'Public' })).toHaveAttribute(
    'aria-checked',
    'true',
  )
  const anonymous = await freshContext(browser)
  const visitor = await anonymous.newPage()
  await visitor.goto('/explore')
  await expect(visitor.getByText(REPOSITORY).first()).toBeVisible()
  await capture(visitor, 'explore')
  await visitor.goto('/sign_in')
  await capture(visitor, 'sign-in')
  await anonymous.close()
})

test('the other pages of a signed-in administrator', async () => {
  for (const [name, path] of [
    ['dashboard', '/dashboard'],
    ['search', '/search?q=hello'],
    ['admin-activities', '/admin/activities'],
    ['help', '/help'],
    ['not-found', '/nothing-here'],
    ['error-403', '/403'],
    ['error-500', '/500'],
    ['namespace-missing', '/namespaces/999999'],
  ] as const) {
    await page.goto(path)
    await capture(page, name)
  }
  await expect(page.getByRole('heading', { name: 'Page not found', level: 1 })).toBeVisible()
})

/** Through the provider's own login form (LemonLDAP::NG's portal; its Demo accounts' password
 * is the user name), from Portus's sign-in page. */
async function signInWithProvider(target: Page, login: string): Promise<void> {
  await target.goto('/sign_in')
  await target.getByRole('link', { name: 'Sign in with OpenID Connect' }).click()
  await expect(target).toHaveURL(new RegExp(`^${stack().oidc_provider}/`))
  await target.locator('input[name="user"]').fill(login)
  await target.locator('input[name="password"]').fill(login)
  await target.locator('form button[type="submit"]').first().click()
}

test('someone signs in with OpenID Connect, and the profile says how to use docker login', async ({
  browser,
}) => {
  const other = await freshContext(browser)
  const visitor = await other.newPage()
  await visitor.goto('/sign_in')
  await expect(visitor.getByRole('link', { name: 'Sign in with OpenID Connect' })).toBeVisible()
  await capture(visitor, 'sign-in-with-provider')
  await signInWithProvider(visitor, 'dwho')
  await expect(visitor).toHaveURL(/\/dashboard/)
  await expect(visitor.getByRole('button', { name: 'Sign out' })).toBeVisible()
  await visitor.goto('/profile')
  await expect(visitor.getByText('You sign in with your identity provider')).toBeVisible()
  await expect(visitor.getByLabel('Email', { exact: true })).toHaveValue('dwho@badwolf.org')
  await capture(visitor, 'profile-of-a-provider-user')
  // signed out and in again: the same account, found by the provider's subject
  await visitor.getByRole('button', { name: 'Sign out' }).click()
  await expect(visitor).toHaveURL(/\/sign_in/)
  await visitor.getByRole('link', { name: 'Sign in with OpenID Connect' }).click()
  await expect(visitor).toHaveURL(/\/dashboard/) // the portal remembers dwho: no form
  const me = await visitor.request.get('/api/v1/me')
  expect(((await me.json()) as { username: string }).username).toBe('dwho')
  await other.close()
})

test('a provider user whose name is taken here chooses another', async ({ browser, request }) => {
  const taken = await request.post('/api/v1/users', {
    headers: basic(ADMIN),
    data: { user: { username: 'rtyler', email: 'rtyler@example.com', password: 'rtyler-pass-1' } },
  })
  expect(taken.status()).toBe(201)
  const other = await freshContext(browser)
  const visitor = await other.newPage()
  await signInWithProvider(visitor, 'rtyler')
  await expect(visitor).toHaveURL(/\/oauth\/username/)
  await expect(visitor.getByRole('heading', { name: 'Choose your username' })).toBeVisible()
  const field = visitor.getByLabel('Username', { exact: true })
  await expect(field).toHaveValue('rtyler')
  await visitor.getByRole('button', { name: 'Create my account' }).click()
  await expect(visitor.getByText(/This username .*taken/)).toBeVisible()
  await capture(visitor, 'oauth-username')
  await field.fill('rose')
  await visitor.getByRole('button', { name: 'Create my account' }).click()
  await expect(visitor).toHaveURL(/\/dashboard/)
  const me = await visitor.request.get('/api/v1/me')
  expect(await me.json()).toMatchObject({ username: 'rose', provider: 'openid_connect' })
  await other.close()
})

test('an ended session leads to sign-in and back to the page', async ({ browser }) => {
  const other = await freshContext(browser)
  const visitor = await other.newPage()
  await signIn(visitor, VIEWER)
  await other.clearCookies() // the session ends (expired, signed out elsewhere)
  await visitor
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: /Teams/ })
    .click()
  await expect(visitor).toHaveURL(/\/sign_in\?.*redirect=(%2F|\/)teams/)
  await expect(visitor.getByText('Your session ended. Sign in to continue.')).toBeVisible()
  await visitor.getByLabel('Username', { exact: true }).fill(VIEWER.username)
  await visitor.getByLabel('Password', { exact: true }).fill(VIEWER.password)
  await visitor.getByRole('button', { name: 'Sign in' }).click()
  await expect(visitor).toHaveURL(/\/teams$/)
  await other.close()
})

test('sign out, and back in with the keyboard alone', async () => {
  await page.goto('/dashboard')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page).toHaveURL(/\/sign_in/)
  await page.goto('/sign_in')
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible()

  // Tab until the username field has the focus, with a visible focus ring on the way
  const username = page.getByLabel('Username', { exact: true })
  for (
    let i = 0;
    i < 15 && !(await username.evaluate((el) => el === document.activeElement));
    i++
  ) {
    await page.keyboard.press('Tab')
    const ring = await page.evaluate(() => {
      const el = document.activeElement
      if (!el || el === document.body) return 'none'
      const style = getComputedStyle(el)
      return style.outlineStyle !== 'none' && style.outlineWidth !== '0px'
        ? style.outlineStyle
        : style.boxShadow
    })
    expect(ring, 'the focused element shows a focus indicator').not.toBe('none')
  }
  await expect(username).toBeFocused()
  await page.keyboard.type(ADMIN.username)
  await page.keyboard.press('Tab')
  await expect(page.getByLabel('Password', { exact: true })).toBeFocused()
  await page.keyboard.type(ADMIN.password)
  await page.keyboard.press('Enter')
  await expect(page).toHaveURL(/\/dashboard/)

  // and navigate: Tab to the main navigation's Repositories link, Enter
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', {
    name: /Repositories/,
  })
  for (let i = 0; i < 25 && !(await link.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab')
  }
  await expect(link).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page).toHaveURL(/\/repositories$/)

  // the skip link: the first Tab of a page; Enter takes the focus past the header and the menu
  await page.reload()
  await expect(page.getByRole('heading', { name: 'Repositories', level: 1 })).toBeVisible()
  await page.keyboard.press('Tab')
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused()
  await page.keyboard.press('Enter')
  await page.keyboard.press('Tab')
  expect(await page.evaluate(() => !!document.activeElement?.closest('main'))).toBe(true)
})

test('a viewer sees no delete buttons, and the API refuses the deletes anyway', async ({
  browser,
  request,
}) => {
  const viewerContext = await freshContext(browser)
  const viewer = await viewerContext.newPage()
  await signIn(viewer, VIEWER)
  await viewer.goto(repositoryPath)
  await expect(viewer.getByRole('heading', { name: 'hello', level: 1 })).toBeVisible()
  await expect(viewer.getByRole('button', { name: /Copy .*:latest$/ })).toBeVisible()
  await expect(viewer.getByRole('button', { name: /delete/i })).toHaveCount(0)
  await expect(viewer.getByRole('checkbox', { name: /Select tag/ })).toHaveCount(0)
  await capture(viewer, 'repository-viewer')
  // the namespace's webhook: visible to a team member, not changeable by a viewer
  await viewer.goto(webhookPath)
  await expect(viewer.getByRole('heading', { name: 'Deliveries' })).toBeVisible()
  for (const name of ['Remove', 'Disable', 'Edit', 'New secret', 'Send again']) {
    await expect(viewer.getByRole('button', { name, exact: true })).toHaveCount(0)
  }
  await capture(viewer, 'webhook-viewer')
  await viewerContext.close()

  const repositoryId = repositoryPath.split('/').pop()
  // the viewer's credentials work on the API: what follows is refused for the role, not the login
  const readable = await request.get(`/api/v1/repositories/${repositoryId}`, {
    headers: basic(VIEWER),
  })
  expect(readable.status()).toBe(200)
  const tags = await request.get(`/api/v1/repositories/${repositoryId}/tags`, {
    headers: basic(ADMIN),
  })
  expect(tags.status()).toBe(200)
  const [tag] = (await tags.json()) as { id: number; name: string }[]
  expect(tag).toBeDefined()
  const refused = await request.delete(`/api/v1/tags/${tag.id}`, { headers: basic(VIEWER) })
  expect([401, 403, 404]).toContain(refused.status())
  const repoRefused = await request.delete(`/api/v1/repositories/${repositoryId}`, {
    headers: basic(VIEWER),
  })
  expect([401, 403, 404]).toContain(repoRefused.status())
  const hookRefused = await request.delete(`/api/v1${webhookPath}`, { headers: basic(VIEWER) })
  expect([401, 403, 404]).toContain(hookRefused.status())
  const hookStill = await request.get(`/api/v1${webhookPath}`, { headers: basic(ADMIN) })
  expect(hookStill.status()).toBe(200)
  const still = await request.get(`/api/v1/repositories/${repositoryId}/tags`, {
    headers: basic(ADMIN),
  })
  expect(((await still.json()) as unknown[]).length).toBe(2)
})
