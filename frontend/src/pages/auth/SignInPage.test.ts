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
})
