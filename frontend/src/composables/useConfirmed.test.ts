import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'

import { ApiError } from '@/api/client'
import { useNoticesStore } from '@/stores/notices'

import { useConfirmed } from './useConfirmed'

beforeEach(() => setActivePinia(createPinia()))

describe('useConfirmed', () => {
  it('opens on ask, runs the action on confirm with the target, then closes', async () => {
    const done: string[] = []
    const removal = useConfirmed((name: string) => {
      expect(removal.busy).toBe(true)
      done.push(name)
      return Promise.resolve()
    })
    expect(removal.open).toBe(false)
    removal.ask('ci')
    expect(removal.open).toBe(true)
    expect(removal.target).toBe('ci')
    await removal.confirm()
    expect(done).toEqual(['ci'])
    expect(removal.open).toBe(false)
    expect(removal.busy).toBe(false)
  })

  it('turns a failure into an error notice and closes', async () => {
    const removal = useConfirmed(() =>
      Promise.reject(new ApiError(403, 'You are not allowed to do this.')),
    )
    removal.ask(1)
    await removal.confirm()
    expect(removal.open).toBe(false)
    expect(useNoticesStore().notices.map((n) => n.text)).toEqual([
      'You are not allowed to do this.',
    ])
  })

  it('runs once while busy, and cancel waits for the running action', async () => {
    let release: () => void = () => undefined
    let runs = 0
    const removal = useConfirmed(
      () =>
        new Promise<void>((resolve) => {
          runs += 1
          release = resolve
        }),
    )
    removal.ask(true)
    const first = removal.confirm()
    void removal.confirm()
    removal.cancel()
    expect(removal.open).toBe(true)
    release()
    await first
    expect(runs).toBe(1)
    expect(removal.open).toBe(false)
  })
})
