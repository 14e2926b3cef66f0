// Short messages after an action ("Namespace created"), announced to screen readers.
import { defineStore } from 'pinia'
import { ref } from 'vue'

export interface Notice {
  id: number
  kind: 'success' | 'error' | 'info'
  text: string
}

export const useNoticesStore = defineStore('notices', () => {
  const notices = ref<Notice[]>([])
  let next = 1

  function dismiss(id: number): void {
    notices.value = notices.value.filter((notice) => notice.id !== id)
  }

  function push(kind: Notice['kind'], text: string, timeout = 5000): void {
    const id = next++
    notices.value.push({ id, kind, text })
    if (timeout > 0) setTimeout(() => dismiss(id), timeout)
  }

  return {
    notices,
    dismiss,
    success: (text: string) => push('success', text),
    error: (text: string) => push('error', text, 8000),
    info: (text: string) => push('info', text),
  }
})
