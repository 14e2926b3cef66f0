import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import { json, testRouter } from '@/test/helpers'

let answer: (request: Request) => Response = () => json(404, {})
const seen: Request[] = []

vi.mock('@/api/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@/api/client')>()
  const fetch = (request: Request) => {
    seen.push(request)
    return Promise.resolve(answer(request))
  }
  return {
    ...actual,
    api: actual.createApi({
      baseUrl: 'http://portus.test/api',
      fetch: fetch as unknown as typeof globalThis.fetch,
    }),
  }
})

const { default: NamespaceCreateForm } = await import('./NamespaceCreateForm.vue')

const teams = [
  { id: 1, name: 'qa', description: null, hidden: false, created_at: '', updated_at: '' },
  { id: 2, name: 'secret', description: null, hidden: true, created_at: '', updated_at: '' },
]

beforeEach(() => {
  seen.length = 0
  answer = (request) => {
    const url = new URL(request.url)
    if (url.pathname.endsWith('/v1/teams')) return json(200, teams)
    if (url.pathname.endsWith('/v1/namespaces/validate')) {
      const name = url.searchParams.get('name')
      return name === 'taken'
        ? json(200, { valid: false, messages: { name: ['has already been taken'] } })
        : json(200, { valid: true, messages: {} })
    }
    if (request.method === 'POST') return json(201, { id: 9, name: 'fresh' })
    return json(404, { message: 'Not found' })
  }
})

async function mountForm() {
  const wrapper = mount(NamespaceCreateForm, {
    props: { debounce: 0 },
    global: { plugins: [testRouter()] },
  })
  await flushPromises()
  return wrapper
}

describe('NamespaceCreateForm', () => {
  it('offers the visible teams only', async () => {
    const wrapper = await mountForm()
    expect(wrapper.findAll('option').map((o) => o.text())).toEqual(['qa'])
  })

  it('checks the name as it is typed and blocks a taken one', async () => {
    const wrapper = await mountForm()
    const submit = wrapper.get('button[type=submit]')
    expect(submit.attributes('disabled')).toBeDefined()

    await wrapper.get('#ns-name').setValue('taken')
    await vi.waitFor(() =>
      expect(wrapper.get('[data-testid=name-check]').text()).toBe('has already been taken'),
    )
    expect(wrapper.get('#ns-name').attributes('aria-invalid')).toBe('true')
    expect(submit.attributes('disabled')).toBeDefined()

    await wrapper.get('#ns-name').setValue('fresh')
    await vi.waitFor(() =>
      expect(wrapper.get('[data-testid=name-check]').text()).toBe('This name is available.'),
    )
    expect(submit.attributes('disabled')).toBeUndefined()
  })

  it('creates the namespace with the chosen team and reports it', async () => {
    const wrapper = await mountForm()
    await wrapper.get('#ns-name').setValue('fresh')
    await vi.waitFor(() =>
      expect(wrapper.get('button[type=submit]').attributes('disabled')).toBeUndefined(),
    )
    await wrapper.get('#ns-description').setValue('  Tools  ')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    const post = seen.find((request) => request.method === 'POST')!
    expect(await post.json()).toEqual({ name: 'fresh', team: 'qa', description: 'Tools' })
    expect(wrapper.emitted('created')![0]).toEqual([{ id: 9, name: 'fresh' }])
  })
})
