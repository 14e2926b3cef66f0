import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { Comment, User } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { fixture, json, testRouter } from '@/test/helpers'

let comments: Comment[] = []

vi.mock('@/api/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@/api/client')>()
  const fetch = (request: Request) =>
    Promise.resolve(request.method === 'GET' ? json(200, comments) : json(204, undefined))
  return {
    ...actual,
    api: actual.createApi({
      baseUrl: 'http://portus.test/api',
      fetch: fetch as unknown as typeof globalThis.fetch,
    }),
  }
})

const { default: CommentList } = await import('./CommentList.vue')

function comment(id: number, userId: number | null, extra: object = {}): Comment {
  return fixture<Comment>({
    id,
    body: `comment **${id}** <script>alert(1)</script>`,
    user_id: userId,
    created_at: '2026-12-01T10:00:00Z',
    updated_at: '2026-12-01T10:00:00Z',
    ...extra,
  })
}

function signIn(id: number, admin: boolean): void {
  const user = { id, username: `user${id}`, admin, display_name: null } as User
  useAuthStore().setSession({ user, csrf_token: 't' })
}

async function mountList() {
  const wrapper = mount(CommentList, {
    props: { repositoryId: 4 },
    global: { plugins: [testRouter()] },
  })
  await flushPromises()
  return wrapper
}

beforeEach(() => setActivePinia(createPinia()))

describe('CommentList', () => {
  it('renders the bodies as sanitised markdown', async () => {
    comments = [comment(1, 2)]
    signIn(2, false)
    const wrapper = await mountList()
    expect(wrapper.find('.markdown strong').text()).toBe('1')
    expect(wrapper.find('script').exists()).toBe(false)
  })

  it('offers Delete on one’s own comments only', async () => {
    comments = [comment(1, 2), comment(2, 3)]
    signIn(2, false)
    const items = (await mountList()).findAll('li.comment')
    expect(items[0]!.find('button').exists()).toBe(true)
    expect(items[1]!.find('button').exists()).toBe(false)
  })

  it('offers Delete on every comment to an administrator', async () => {
    comments = [comment(1, 2), comment(2, 3)]
    signIn(9, true)
    expect((await mountList()).findAll('li.comment button')).toHaveLength(2)
  })

  it('follows the API’s destroyable flag and author name when given', async () => {
    comments = [
      comment(1, 3, { destroyable: true, author: { id: 3, name: 'Carol' } }),
      comment(2, 2, { destroyable: false }),
    ]
    signIn(2, false)
    const wrapper = await mountList()
    const items = wrapper.findAll('li.comment')
    expect(items[0]!.text()).toContain('Carol')
    expect(items[0]!.find('button').exists()).toBe(true)
    expect(items[1]!.find('button').exists()).toBe(false)
  })
})
