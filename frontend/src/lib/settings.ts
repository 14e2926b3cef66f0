// The server's public settings (sign-up, LDAP, anonymous browsing, whether anyone has an account
// yet, …) as the UI uses them. The API is gaining an anonymous `GET /api/v1/settings`; until it
// answers, the defaults below (Portus's own) apply and `usersExist` stays unknown.

/** A sign-in provider (OpenID Connect, …): one button on the sign-in page. */
export interface SignInProvider {
  name: string
  label: string
  /** Where the button leads (the API's `start`; add `?return_to=` to come back). */
  url: string
}

export interface PublicSettings {
  /** The answer came from the server (false: defaults). */
  loaded: boolean
  signupEnabled: boolean
  ldapEnabled: boolean
  anonymousBrowsing: boolean
  /** null: unknown (no settings endpoint). */
  usersExist: boolean | null
  firstUserAdmin: boolean
  displayNameEnabled: boolean
  deleteEnabled: boolean
  passwordReset: boolean
  createNamespace: boolean
  createTeam: boolean
  changeVisibility: boolean
  perPage: number
  /** The server's version (shown to administrators). */
  version: string | null
  /** `oauth.local_login`: the username/password form is offered. */
  localLogin: boolean
  providers: SignInProvider[]
}

export const DEFAULT_SETTINGS: PublicSettings = {
  loaded: false,
  signupEnabled: true,
  ldapEnabled: false,
  anonymousBrowsing: true,
  usersExist: null,
  firstUserAdmin: true,
  displayNameEnabled: false,
  deleteEnabled: true,
  passwordReset: true,
  createNamespace: true,
  createTeam: true,
  changeVisibility: true,
  perPage: 10,
  version: null,
  localLogin: true,
  providers: [],
}

type Raw = Record<string, unknown>

function dig(raw: Raw, path: string): unknown {
  let value: unknown = raw
  for (const key of path.split('.')) {
    if (!value || typeof value !== 'object') return undefined
    value = (value as Raw)[key]
  }
  return value
}

/** A flag as `true`, `{enabled: true}`, under any of the given names. */
function flag(raw: Raw, names: string[], fallback: boolean): boolean {
  for (const name of names) {
    const value = dig(raw, name)
    if (typeof value === 'boolean') return value
    if (value && typeof value === 'object' && typeof (value as Raw).enabled === 'boolean') {
      return (value as Raw).enabled as boolean
    }
  }
  return fallback
}

function providers(raw: Raw): SignInProvider[] {
  const listed = dig(raw, 'oauth.providers')
  if (!Array.isArray(listed)) return []
  return listed.filter(
    (p): p is SignInProvider =>
      !!p &&
      typeof p === 'object' &&
      typeof (p as Raw).name === 'string' &&
      typeof (p as Raw).label === 'string' &&
      typeof (p as Raw).url === 'string' &&
      ((p as Raw).url as string).startsWith('/api/'),
  )
}

/** Reads the settings answer, whichever of the plausible shapes it takes (flat or nested). */
export function normaliseSettings(raw: unknown): PublicSettings {
  if (!raw || typeof raw !== 'object') return { ...DEFAULT_SETTINGS }
  const r = raw as Raw
  const d = DEFAULT_SETTINGS
  const ldapEnabled = flag(r, ['ldap_enabled', 'ldap'], d.ldapEnabled)
  let usersExist: boolean | null = null
  for (const name of ['first_user.users_exist', 'users_exist', 'has_users']) {
    const value = dig(r, name)
    if (usersExist === null && typeof value === 'boolean') usersExist = value
  }
  if (usersExist === null && typeof r.users_count === 'number') usersExist = r.users_count > 0
  const perPage = dig(r, 'pagination.per_page') ?? r.per_page
  return {
    loaded: true,
    ldapEnabled,
    signupEnabled: flag(r, ['signup_enabled', 'signup'], d.signupEnabled) && !ldapEnabled,
    anonymousBrowsing: flag(r, ['anonymous_browsing_enabled', 'anonymous_browsing'], true),
    usersExist,
    firstUserAdmin: flag(
      r,
      ['first_user.admin', 'first_user_admin_enabled', 'first_user_admin'],
      d.firstUserAdmin,
    ),
    displayNameEnabled: flag(r, ['display_name_enabled', 'display_name'], d.displayNameEnabled),
    deleteEnabled: flag(r, ['delete_enabled', 'delete'], d.deleteEnabled),
    passwordReset:
      flag(r, ['password_reset_enabled', 'password_reset', 'email_enabled'], true) && !ldapEnabled,
    createNamespace: flag(
      r,
      ['user_permission.create_namespace', 'create_namespace_enabled', 'create_namespace'],
      d.createNamespace,
    ),
    createTeam: flag(
      r,
      ['user_permission.create_team', 'create_team_enabled', 'create_team'],
      d.createTeam,
    ),
    changeVisibility: flag(
      r,
      ['user_permission.change_visibility', 'change_visibility_enabled', 'change_visibility'],
      d.changeVisibility,
    ),
    perPage: typeof perPage === 'number' && perPage > 0 ? perPage : d.perPage,
    version: typeof r.version === 'string' ? r.version : null,
    localLogin: flag(r, ['oauth.local_login'], d.localLogin),
    providers: providers(r),
  }
}
