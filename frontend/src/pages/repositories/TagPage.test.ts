import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import { json, testRouter } from '@/test/helpers'

let answers: Record<string, Response> = {}

vi.mock('@/api/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@/api/client')>()
  const fetch = (request: Request) => {
    const path = new URL(request.url).pathname.replace('/api', '')
    return Promise.resolve(answers[path]?.clone() ?? json(404, { message: 'Not found' }))
  }
  return {
    ...actual,
    api: actual.createApi({
      baseUrl: 'http://portus.test/api',
      fetch: fetch as unknown as typeof globalThis.fetch,
    }),
  }
})

const { default: TagPage } = await import('./TagPage.vue')

const tag = {
  id: 12,
  repository_id: 4,
  name: 'v1.2',
  digest: 'sha256:abcdef0123456789',
  media_type: null,
  image_id: '0123456789ab',
  size: 5 * 1024 * 1024,
  author: { id: 1, name: 'alice' },
  pulled_at: null,
  created_at: '2026-12-01T10:00:00Z',
  updated_at: '2026-12-01T10:00:00Z',
}
const repository = {
  id: 4,
  name: 'app',
  full_name: 'team/app',
  description: null,
  namespace: { id: 2, name: 'team' },
  tags_count: 1,
  created_at: '2026-12-01T10:00:00Z',
  updated_at: '2026-12-01T10:00:00Z',
  permissions: { role: 'viewer', pull: true, push: false },
  stars: 0,
  starred: false,
  destroyable: false,
  updatable: false,
  registry_hostname: 'registry.example.org:5000',
  pull_command: 'docker pull registry.example.org:5000/team/app',
}

async function mountPage(repositoryId = 4) {
  const wrapper = mount(TagPage, {
    props: { repositoryId, id: 12 },
    global: { plugins: [testRouter()] },
  })
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  setActivePinia(createPinia())
  answers = {
    '/v1/tags/12': json(200, tag),
    '/v1/repositories/4': json(200, repository),
    '/v1/repositories/5': json(200, { ...repository, id: 5 }),
  }
})

describe('TagPage', () => {
  it('shows the tag, its exact pull command, and no delete for a viewer', async () => {
    answers['/v1/tags/12/details'] = json(200, {
      id: 12,
      name: 'v1.2',
      repository: 'team/app',
      digest: tag.digest,
      media_type: null,
      multi_platform: false,
      platforms_total: 0,
      platforms: [],
    })
    const wrapper = await mountPage()
    expect(wrapper.get('h1').text()).toBe('v1.2')
    expect(wrapper.get('.pull-command').text()).toBe(
      'docker pull registry.example.org:5000/team/app:v1.2',
    )
    const facts = wrapper.get('dl.facts').text()
    expect(facts).toContain('sha256:abcdef0123456789')
    expect(facts).toContain('0123456789ab')
    expect(facts).toContain('never')
    expect(facts).toContain('5.0 MiB')
    expect(wrapper.get('.page-header').text()).not.toContain('Delete tag')
    expect(wrapper.text()).toContain('The registry lists no image for this tag.')
  })

  it('keeps the tag when the registry cannot be reached, and says so', async () => {
    answers['/v1/tags/12/details'] = json(502, { message: 'The registry did not answer' })
    const wrapper = await mountPage()
    expect(wrapper.get('h1').text()).toBe('v1.2')
    const alert = wrapper.get('[role=alert]').text()
    expect(alert).toContain('The registry cannot be reached')
    expect(alert).toContain('The registry did not answer')
  })

  it('is not found at the address of another repository', async () => {
    const wrapper = await mountPage(5)
    expect(wrapper.get('h1').text()).toBe('Page not found')
  })
})
