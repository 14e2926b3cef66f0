import { ref, shallowRef, type Ref, type ShallowRef } from 'vue'

import { ApiError } from '@/api/client'

export interface AsyncState<T> {
  data: ShallowRef<T | undefined>
  error: ShallowRef<ApiError | null>
  loading: Ref<boolean>
  run: () => Promise<void>
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  return new ApiError(0, error instanceof Error ? error.message : String(error))
}

/** Loads `fn` now (unless `immediate: false`) and on `run()`; only the latest answer counts. */
export function useAsync<T>(
  fn: () => Promise<T>,
  options: { immediate?: boolean } = {},
): AsyncState<T> {
  const data = shallowRef<T>()
  const error = shallowRef<ApiError | null>(null)
  const loading = ref(false)
  let sequence = 0

  async function run(): Promise<void> {
    const mine = ++sequence
    loading.value = true
    error.value = null
    try {
      const result = await fn()
      if (mine === sequence) data.value = result
    } catch (caught) {
      if (mine === sequence) error.value = toApiError(caught)
    } finally {
      if (mine === sequence) loading.value = false
    }
  }

  if (options.immediate !== false) void run()
  return { data, error, loading, run }
}
