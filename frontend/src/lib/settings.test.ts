import { describe, expect, it } from 'vitest'

import { DEFAULT_SETTINGS, normaliseSettings } from './settings'

describe('normaliseSettings', () => {
  it('keeps Portus’s defaults for an unusable answer', () => {
    expect(normaliseSettings(null)).toEqual(DEFAULT_SETTINGS)
  })

  it('reads flat flags', () => {
    const settings = normaliseSettings({
      signup_enabled: false,
      anonymous_browsing: false,
      users_exist: false,
      display_name_enabled: true,
    })
    expect(settings).toMatchObject({
      loaded: true,
      signupEnabled: false,
      anonymousBrowsing: false,
      usersExist: false,
      displayNameEnabled: true,
    })
  })

  it('reads config-shaped {enabled} objects', () => {
    const settings = normaliseSettings({
      signup: { enabled: true },
      delete: { enabled: false },
      user_permission: { create_namespace: { enabled: false } },
      pagination: { per_page: 25 },
      first_user: { users_exist: false, admin: true, create_admin: true },
      version: '2.4.0-py',
    })
    expect(settings).toMatchObject({
      signupEnabled: true,
      deleteEnabled: false,
      createNamespace: false,
      perPage: 25,
      usersExist: false,
      firstUserAdmin: true,
      version: '2.4.0-py',
    })
  })

  it('turns sign-up and password reset off under LDAP', () => {
    const settings = normaliseSettings({ ldap: { enabled: true }, signup: { enabled: true } })
    expect(settings.ldapEnabled).toBe(true)
    expect(settings.signupEnabled).toBe(false)
    expect(settings.passwordReset).toBe(false)
  })

  it('reads the sign-in providers and local login, keeping only buttons into the API', () => {
    const settings = normaliseSettings({
      oauth: {
        local_login: false,
        providers: [
          {
            name: 'openid_connect',
            label: 'OpenID Connect',
            url: '/api/v1/oauth/openid_connect/start',
          },
          { name: 'evil', label: 'Evil', url: 'https://evil.example/' },
          { name: 'broken' },
        ],
      },
    })
    expect(settings.localLogin).toBe(false)
    expect(settings.providers).toEqual([
      {
        name: 'openid_connect',
        label: 'OpenID Connect',
        url: '/api/v1/oauth/openid_connect/start',
      },
    ])
    expect(normaliseSettings({}).localLogin).toBe(true)
  })
})
