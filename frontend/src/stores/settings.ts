import { defineStore } from 'pinia'
import { ref } from 'vue'

import { untyped } from '@/api/client'
import { DEFAULT_SETTINGS, normaliseSettings, type PublicSettings } from '@/lib/settings'

export const useSettingsStore = defineStore('settings', () => {
  const settings = ref<PublicSettings>({ ...DEFAULT_SETTINGS })
  let loading: Promise<void> | null = null

  async function load(): Promise<void> {
    try {
      const raw = await untyped<unknown>('GET', '/v1/settings', { optional: true })
      settings.value = raw === undefined ? { ...DEFAULT_SETTINGS } : normaliseSettings(raw)
    } catch {
      settings.value = { ...DEFAULT_SETTINGS }
    }
  }

  /** Loads once; later calls share the first answer. */
  function ensureLoaded(): Promise<void> {
    loading ??= load()
    return loading
  }

  /** Learnt on the way (e.g. sign-up said nobody is set up yet). */
  function learn(patch: Partial<PublicSettings>): void {
    settings.value = { ...settings.value, ...patch }
  }

  return { settings, ensureLoaded, learn }
})
