import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { User } from '@/api/types'
import { createAppRouter } from '@/router'
import { useAuthStore } from '@/stores/auth'
import { useSettingsStore } from '@/stores/settings'

const user = (admin: boolean): User => ({
  id: 2,
  username: 'alice',
  email: 'alice@example.com',
  admin,
  enabled: true,
  bot: false,
  locked_at: null,
  namespace_id: 3,
  display_name: null,
  created_at: '',
  updated_at: '',
})

/** A router whose session and settings are already known (no request is made). */
function setup(options: { signedIn?: User; usersExist?: boolean | null; anonymous?: boolean }) {
  setActivePinia(createPinia())
  const auth = useAuthStore()
  if (options.signedIn) auth.setSession({ user: options.signedIn, csrf_token: 'x' })
  else auth.clear()
  const settings = useSettingsStore()
  vi.spyOn(settings, 'ensureLoaded').mockResolvedValue()
  settings.learn({
    usersExist: options.usersExist ?? true,
    anonymousBrowsing: options.anonymous ?? true,
  })
  return createAppRouter()
}

beforeEach(() => {
  window.history.replaceState({}, '', '/')
})

describe('the router', () => {
  it('sends a signed-out visitor to sign in, remembering where they were going', async () => {
    const router = setup({})
    await router.push('/namespaces/5?tab=x')
    expect(router.currentRoute.value.name).toBe('sign-in')
    expect(router.currentRoute.value.query.redirect).toBe('/namespaces/5?tab=x')
  })

  it('opens the start page on sign-up while nobody has an account', async () => {
    const router = setup({ usersExist: false })
    await router.push('/')
    expect(router.currentRoute.value.name).toBe('sign-up')
  })

  it('takes a signed-in person from the start page and sign-in to the dashboard', async () => {
    const router = setup({ signedIn: user(false) })
    await router.push('/')
    expect(router.currentRoute.value.name).toBe('dashboard')
    await router.push('/sign_in')
    expect(router.currentRoute.value.name).toBe('dashboard')
  })

  it('shows not found, at the same address, to a non-admin on an admin page', async () => {
    const router = setup({ signedIn: user(false) })
    await router.push('/admin/users')
    expect(router.currentRoute.value.name).toBe('not-found')
    expect(router.currentRoute.value.path).toBe('/admin/users')
    const admin = setup({ signedIn: user(true) })
    await admin.push('/admin/users')
    expect(admin.currentRoute.value.name).toBe('admin-users')
  })

  it('opens the password reset link from the mail, token included, signed in or not', async () => {
    const router = setup({})
    await router.push('/password_reset?token=abc')
    expect(router.currentRoute.value.name).toBe('password-reset')
    expect(router.currentRoute.value.query.token).toBe('abc')
  })

  it('lets anonymous visitors explore only when anonymous browsing is on', async () => {
    const open = setup({})
    await open.push('/explore')
    expect(open.currentRoute.value.name).toBe('explore')
    const closed = setup({ anonymous: false })
    await closed.push('/explore')
    expect(closed.currentRoute.value.name).toBe('sign-in')
  })

  it('routes a tag page under its repository, and the error pages by status', async () => {
    const router = setup({ signedIn: user(false) })
    await router.push('/repositories/4/tags/12')
    expect(router.currentRoute.value.name).toBe('tag')
    const match = router.currentRoute.value.matched[0]!
    const props = match.props.default as (route: unknown) => unknown
    expect(props(router.currentRoute.value)).toEqual({ repositoryId: 4, id: 12 })
    for (const [path, name] of [
      ['/401', 'unauthorized'],
      ['/403', 'forbidden'],
      ['/500', 'server-error'],
    ] as const) {
      await router.push(path)
      expect(router.currentRoute.value.name).toBe(name)
    }
  })

  it('opens the admin user edit page for administrators only', async () => {
    const admin = setup({ signedIn: user(true) })
    await admin.push('/admin/users/5/edit')
    expect(admin.currentRoute.value.name).toBe('admin-user-edit')
    const other = setup({ signedIn: user(false) })
    await other.push('/admin/users/5/edit')
    expect(other.currentRoute.value.name).toBe('not-found')
  })
})
