import { computed, reactive, ref, shallowRef } from 'vue'

import { useNoticesStore } from '@/stores/notices'

import { toApiError } from './useAsync'

/**
 * An action asked about first (delete, remove, rotate): `ask(target)` opens the ConfirmDialog,
 * `confirm()` runs the action once (busy meanwhile), a failure becomes an error notice, and the
 * dialog closes either way. `cancel()` closes it unless the action is running.
 */
export function useConfirmed<T>(action: (target: T) => Promise<void>) {
  const notices = useNoticesStore()
  const target = shallowRef<T | null>(null)
  const busy = ref(false)

  function ask(next: T): void {
    target.value = next
  }

  function cancel(): void {
    if (!busy.value) target.value = null
  }

  async function confirm(): Promise<void> {
    const current = target.value
    if (current === null || busy.value) return
    busy.value = true
    try {
      await action(current)
    } catch (caught) {
      notices.error(toApiError(caught).message)
    } finally {
      busy.value = false
      target.value = null
    }
  }

  return reactive({
    target,
    open: computed(() => target.value !== null),
    busy,
    ask,
    cancel,
    confirm,
  })
}
