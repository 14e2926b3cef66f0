// Who is signed in. The API keeps the session in an httpOnly cookie (JavaScript never sees it)
// and gives the page a CSRF token to send back on changes: both come from /v1/session.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import { api, ApiError, unwrap } from '@/api/client'
import type { User } from '@/api/types'

export type AuthState = 'unknown' | 'anonymous' | 'signed-in'

export const useAuthStore = defineStore('auth', () => {
  const user = ref<User | null>(null)
  const csrfToken = ref<string | null>(null)
  const state = ref<AuthState>('unknown')
  let loading: Promise<void> | null = null

  const signedIn = computed(() => state.value === 'signed-in' && user.value !== null)
  const isAdmin = computed(() => user.value?.admin === true)
  const displayName = computed(() => user.value?.display_name || user.value?.username || '')

  function setSession(next: { user: User; csrf_token: string | null }): void {
    user.value = next.user
    csrfToken.value = next.csrf_token
    state.value = 'signed-in'
  }

  function clear(): void {
    user.value = null
    csrfToken.value = null
    state.value = 'anonymous'
  }

  async function load(): Promise<void> {
    try {
      setSession(await unwrap(api.GET('/v1/session')))
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) {
        // The server could not say: treat as signed out, the page will show its error.
        console.warn('session check failed:', error.message)
      }
      clear()
    }
  }

  /** The first call asks the API; later ones wait for that answer. */
  function ensureLoaded(): Promise<void> {
    if (state.value !== 'unknown') return Promise.resolve()
    loading ??= load().finally(() => {
      loading = null
    })
    return loading
  }

  async function signIn(username: string, password: string): Promise<void> {
    setSession(await unwrap(api.POST('/v1/session', { body: { username, password } })))
  }

  async function signOut(): Promise<void> {
    try {
      await unwrap(api.DELETE('/v1/session'))
    } finally {
      clear()
    }
  }

  async function refreshUser(): Promise<void> {
    user.value = await unwrap(api.GET('/v1/me'))
  }

  return {
    user,
    csrfToken,
    state,
    signedIn,
    isAdmin,
    displayName,
    ensureLoaded,
    signIn,
    signOut,
    clear,
    setSession,
    refreshUser,
  }
})
