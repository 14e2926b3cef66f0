import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { User } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { useSettingsStore } from '@/stores/settings'
import { fixture, json, testRouter } from '@/test/helpers'

const alice = fixture<User>({
  id: 5,
  username: 'alice',
  email: 'alice@example.org',
  admin: false,
  enabled: true,
  bot: false,
  locked_at: null,
  namespace_id: 6,
  display_name: null,
  created_at: '2026-12-01T10:00:00Z',
  updated_at: '2026-12-01T10:00:00Z',
})
const calls: { method: string; path: string; body: unknown }[] = []
let failWith: Response | null = null

vi.mock('@/api/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@/api/client')>()
  const fetch = async (request: Request) => {
    const path = new URL(request.url).pathname
    const text = await request.text()
    calls.push({ method: request.method, path, body: text ? JSON.parse(text) : undefined })
    if (request.method === 'GET') return json(200, alice)
    if (failWith) return failWith
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    const fields = (body.user ?? body) as Partial<User>
    return json(200, { ...alice, ...fields })
  }
  return {
    ...actual,
    api: actual.createApi({
      baseUrl: 'http://portus.test/api',
      fetch: fetch as unknown as typeof globalThis.fetch,
    }),
  }
})

const { default: AdminUserEditPage } = await import('./AdminUserEditPage.vue')

async function mountPage() {
  const wrapper = mount(AdminUserEditPage, {
    props: { id: 5 },
    global: { plugins: [testRouter()] },
  })
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  setActivePinia(createPinia())
  useAuthStore().setSession({ user: fixture<User>({ id: 1, admin: true }), csrf_token: 't' })
  calls.length = 0
  failWith = null
})

const changes = () => calls.filter((call) => call.method !== 'GET')

describe('AdminUserEditPage', () => {
  it('fills the form and saves only what changed, each switch through its own call', async () => {
    useSettingsStore().learn({ displayNameEnabled: true })
    const wrapper = await mountPage()
    expect((wrapper.get('#edit-email').element as HTMLInputElement).value).toBe('alice@example.org')
    await wrapper.get('#edit-display-name').setValue('Alice A.')
    await wrapper.findAll('input[type=checkbox]')[0]!.setValue(true)
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(changes()).toEqual([
      { method: 'PUT', path: '/api/v1/users/5', body: { user: { display_name: 'Alice A.' } } },
      { method: 'PUT', path: '/api/v1/users/5/admin', body: { admin: true } },
    ])
  })

  it('leaves out the display name when the server has display names off', async () => {
    const wrapper = await mountPage()
    expect(wrapper.find('#edit-display-name').exists()).toBe(false)
    await wrapper.get('#edit-email').setValue('a@example.org')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(changes()).toEqual([
      { method: 'PUT', path: '/api/v1/users/5', body: { user: { email: 'a@example.org' } } },
    ])
  })

  it('resets the password only when both entries match', async () => {
    const wrapper = await mountPage()
    const form = wrapper.findAll('form')[1]!
    await wrapper.get('#edit-password').setValue('new-secret-1')
    await wrapper.get('#edit-confirmation').setValue('new-secret-2')
    expect(wrapper.text()).toContain('The passwords differ.')
    expect(form.get('button[type=submit]').attributes('disabled')).toBeDefined()
    await wrapper.get('#edit-confirmation').setValue('new-secret-1')
    await form.trigger('submit')
    await flushPromises()
    expect(changes()).toEqual([
      { method: 'PUT', path: '/api/v1/users/5', body: { user: { password: 'new-secret-1' } } },
    ])
  })

  it("shows the API's refusal next to the field", async () => {
    failWith = json(422, { message: { email: ['has already been taken'] } })
    const wrapper = await mountPage()
    await wrapper.get('#edit-email').setValue('bob@example.org')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(wrapper.get('#edit-email-problem').text()).toBe('Email has already been taken')
    expect(wrapper.get('#edit-email').attributes('aria-invalid')).toBe('true')
    expect((wrapper.get('#edit-email').element as HTMLInputElement).value).toBe('bob@example.org')
  })
})
