import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'

import { useSettingsStore } from '@/stores/settings'
import { testRouter } from '@/test/helpers'

import SignInPage from './SignInPage.vue'

function mountPage() {
  return mount(SignInPage, { global: { plugins: [testRouter()] } })
}

beforeEach(() => setActivePinia(createPinia()))

describe('SignInPage', () => {
  it('offers sign-up, password reset and explore by default', () => {
    const wrapper = mountPage()
    expect(wrapper.get('button[type=submit]').text()).toBe('Sign in')
    const links = wrapper.findAll('a').map((a) => a.attributes('href'))
    expect(links).toEqual(['/sign_up', '/password/new', '/explore'])
  })

  it('says LDAP Login and hides sign-up and reset when LDAP is on', () => {
    useSettingsStore().learn({ ldapEnabled: true, signupEnabled: false, anonymousBrowsing: false })
    const wrapper = mountPage()
    expect(wrapper.get('button[type=submit]').text()).toBe('LDAP Login')
    expect(wrapper.findAll('a')).toHaveLength(0)
  })

  it('points to creating the administrator when nobody has an account', () => {
    useSettingsStore().learn({ usersExist: false })
    expect(mountPage().text()).toContain('Create the administrator')
  })

  it('shows one button per provider, coming back where the visitor was going', async () => {
    useSettingsStore().learn({
      providers: [
        {
          name: 'openid_connect',
          label: 'OpenID Connect',
          url: '/api/v1/oauth/openid_connect/start',
        },
      ],
    })
    const router = testRouter()
    await router.push('/sign_in?redirect=/repositories/4')
    const wrapper = mount(SignInPage, { global: { plugins: [router] } })
    const button = wrapper.get('.providers a')
    expect(button.text()).toBe('Sign in with OpenID Connect')
    expect(button.attributes('href')).toBe(
      '/api/v1/oauth/openid_connect/start?return_to=%2Frepositories%2F4',
    )
    expect(wrapper.find('form').exists()).toBe(true)
  })

  it('hides the password form when local login is off', () => {
    useSettingsStore().learn({
      localLogin: false,
      providers: [{ name: 'openid_connect', label: 'Acme ID', url: '/api/v1/oauth/x/start' }],
    })
    const wrapper = mountPage()
    expect(wrapper.find('form').exists()).toBe(false)
    expect(wrapper.text()).not.toContain('username and password')
  })

  it("says why a provider's sign-in failed", async () => {
    const router = testRouter()
    await router.push('/sign_in?oauth_error=the sign-in provider cannot be reached (token)')
    const wrapper = mount(SignInPage, { global: { plugins: [router] } })
    expect(wrapper.get('[role=alert]').text()).toBe(
      'Signing in with the provider failed: the sign-in provider cannot be reached (token).',
    )
  })
})
