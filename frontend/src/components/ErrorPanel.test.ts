import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'

import type { User } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { testRouter } from '@/test/helpers'

import ErrorPanel from './ErrorPanel.vue'

interface Props {
  status: number
  detail?: string
  retry?: boolean
  level?: 1 | 2
}

async function mountPanel(props: Props, at = '/teams/9') {
  const router = testRouter()
  await router.push(at)
  return mount(ErrorPanel, { props, global: { plugins: [router] } })
}

beforeEach(() => setActivePinia(createPinia()))

describe('ErrorPanel', () => {
  it('asks a signed-out visitor to sign in, coming back here after', async () => {
    const wrapper = await mountPanel({ status: 401 })
    expect(wrapper.get('h1').text()).toBe('Sign in to see this page')
    const signIn = wrapper.findAll('a').find((a) => a.text() === 'Sign in')
    expect(signIn?.attributes('href')).toBe('/sign_in?redirect=/teams/9')
  })

  it('explains 403 and 404 and leads to the dashboard when signed in', async () => {
    useAuthStore().setSession({ user: { id: 1, admin: false } as User, csrf_token: 't' })
    const forbidden = await mountPanel({ status: 403, level: 2 })
    expect(forbidden.get('h2').text()).toBe('You may not see this page')
    expect(forbidden.text()).toContain('Go to the dashboard')
    const missing = await mountPanel({ status: 404 })
    expect(missing.get('h1').text()).toBe('Page not found')
    expect(missing.find('button.btn-primary').exists()).toBe(false)
  })

  it('offers a retry for a server failure or no connection, with the API message', async () => {
    const wrapper = await mountPanel({ status: 503, detail: 'The registry is down.', retry: true })
    expect(wrapper.get('h1').text()).toBe('Something went wrong')
    expect(wrapper.text()).toContain('The registry is down.')
    await wrapper.get('button.btn-primary').trigger('click')
    expect(wrapper.emitted('retry')).toHaveLength(1)
    const offline = await mountPanel({ status: 0 })
    expect(offline.get('h1').text()).toBe('The server cannot be reached')
  })

  it('on the routed 500 page, tries the failed address again (only a local one)', async () => {
    const wrapper = await mountPanel({ status: 500 }, '/500?from=/repositories/3')
    const again = wrapper.findAll('a').find((a) => a.text() === 'Try again')
    expect(again?.attributes('href')).toBe('/repositories/3')
    const outside = await mountPanel({ status: 500 }, '/500?from=//evil.example')
    expect(outside.findAll('a').some((a) => a.text() === 'Try again')).toBe(false)
  })
})
