import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import { useAuthStore } from '@/stores/auth'
import { json, testRouter } from '@/test/helpers'

let answer: (request: Request) => Promise<Response> | Response = () => json(404, {})
const seen: { method: string; url: string; body: string }[] = []

vi.mock('@/api/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@/api/client')>()
  const fetch = async (request: Request) => {
    seen.push({ method: request.method, url: request.url, body: await request.clone().text() })
    return answer(request)
  }
  return {
    ...actual,
    api: actual.createApi({
      baseUrl: 'http://portus.test/api',
      fetch: fetch as unknown as typeof globalThis.fetch,
    }),
  }
})

function lastBody(): string {
  return seen.at(-1)?.body ?? ''
}

const { default: OAuthUsernamePage } = await import('./OAuthUsernamePage.vue')

const USER = { id: 7, username: 'rose', email: null, admin: false, enabled: true, bot: false }

async function mountAt(path: string) {
  const router = testRouter()
  await router.push(path)
  const wrapper = mount(OAuthUsernamePage, { global: { plugins: [router] } })
  await flushPromises()
  return { wrapper, router }
}

beforeEach(() => {
  setActivePinia(createPinia())
  sessionStorage.clear()
  seen.length = 0
  answer = (request) => {
    if (request.method === 'GET') {
      return json(200, {
        provider: 'openid_connect',
        email: 'rtyler@badwolf.org',
        suggested_username: 'rtyler',
        return_to: '/repositories/3',
      })
    }
    return JSON.parse(lastBody()).username === 'rtyler'
      ? json(422, { message: { username: ['has already been taken'] } })
      : json(201, { user: USER, csrf_token: 'csrf' })
  }
})

describe('OAuthUsernamePage', () => {
  it('suggests the provider’s name, says why it was refused, then signs in', async () => {
    const { wrapper, router } = await mountAt('/oauth/username?token=oas_x_y')
    // the token leaves the address bar at once
    expect(router.currentRoute.value.fullPath).toBe('/oauth/username')
    const input = wrapper.get<HTMLInputElement>('#oauth-username')
    expect(input.element.value).toBe('rtyler')
    expect(wrapper.text()).toContain('as rtyler@badwolf.org')

    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(wrapper.get('.problem').text()).toBe('This username has already been taken.')
    expect(input.attributes('aria-invalid')).toBe('true')

    await input.setValue('rose')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(JSON.parse(lastBody())).toEqual({ token: 'oas_x_y', username: 'rose' })
    expect(useAuthStore().user?.username).toBe('rose')
    // where the sign-in was going
    expect(router.currentRoute.value.fullPath).toBe('/repositories/3')
    expect(sessionStorage.getItem('portus.oauthSignupToken')).toBeNull()
  })

  it('keeps the token for a reload of the page in the same tab', async () => {
    await mountAt('/oauth/username?token=oas_kept_one')
    const { wrapper } = await mountAt('/oauth/username')
    expect(wrapper.get<HTMLInputElement>('#oauth-username').element.value).toBe('rtyler')
    expect(seen.at(-1)?.url).toContain('token=oas_kept_one')
  })

  it('says when the sign-up has ended', async () => {
    answer = () => json(404, { message: 'This sign-up has ended: sign in with the provider again' })
    const { wrapper } = await mountAt('/oauth/username?token=oas_old_token')
    expect(wrapper.get('[role=alert]').text()).toBe(
      'This sign-up has ended: sign in with the provider again',
    )
    expect(wrapper.find('form').exists()).toBe(false)
  })

  it('says when the link has no token, asking nothing of the API', async () => {
    const { wrapper } = await mountAt('/oauth/username')
    expect(wrapper.get('[role=alert]').text()).toContain('no sign-up token')
    expect(seen).toHaveLength(0)
  })
})
