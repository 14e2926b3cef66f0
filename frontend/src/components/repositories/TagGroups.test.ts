import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'

import type { RepositoryDetail, Tag } from '@/api/types'
import { fixture, testRouter } from '@/test/helpers'

import TagGroups from './TagGroups.vue'

function tag(id: number, name: string, digest: string, extra: object = {}): Tag {
  return fixture<Tag>({
    id,
    name,
    digest,
    media_type: null,
    image_id: digest.slice(7),
    size: 2048,
    author: { id: 1, name: 'admin' },
    pulled_at: null,
    created_at: '2026-12-01T10:00:00Z',
    updated_at: '2026-12-01T10:00:00Z',
    ...extra,
  })
}

function repository(destroyable: boolean): RepositoryDetail {
  return fixture<RepositoryDetail>({
    id: 1,
    name: 'app',
    full_name: 'team/app',
    description: null,
    namespace: { id: 2, name: 'team' },
    tags_count: 3,
    created_at: '2026-12-01T10:00:00Z',
    updated_at: '2026-12-01T10:00:00Z',
    stars: 0,
    starred: false,
    destroyable,
    registry_hostname: 'registry.example.org:5000',
    pull_command: 'docker pull registry.example.org:5000/team/app',
  })
}

const groups = [
  [tag(1, 'latest', 'sha256:aaaa1111'), tag(2, '1.0', 'sha256:aaaa1111')],
  [tag(3, '0.9', 'sha256:bbbb2222')],
]

function mountGroups(destroyable: boolean, tags: Tag[][] = groups, linked = false) {
  return mount(TagGroups, {
    props: { groups: tags, repository: repository(destroyable), linked },
    global: { plugins: [testRouter()] },
  })
}

afterEach(() => vi.unstubAllGlobals())

describe('TagGroups', () => {
  it('shows one table body per image, with every tag', () => {
    const wrapper = mountGroups(false)
    expect(wrapper.findAll('tbody')).toHaveLength(2)
    expect(wrapper.findAll('button.tag-chip').map((b) => b.text())).toEqual([
      'latest',
      '1.0',
      '0.9',
    ])
  })

  it('offers no selection or delete to a caller who may not delete', () => {
    const wrapper = mountGroups(false)
    expect(wrapper.find('input[type=checkbox]').exists()).toBe(false)
    expect(wrapper.text()).not.toContain('Delete selected tags')
  })

  it('lets a caller who may delete pick tags and emits them', async () => {
    const wrapper = mountGroups(true)
    const boxes = wrapper.findAll('input[type=checkbox]')
    expect(boxes).toHaveLength(3)
    const button = wrapper.get('button.btn-danger')
    expect(button.attributes('disabled')).toBeDefined()
    await boxes[0]!.setValue(true)
    await boxes[2]!.setValue(true)
    await button.trigger('click')
    const emitted = wrapper.emitted('delete')
    expect(emitted).toHaveLength(1)
    expect((emitted![0]![0] as Tag[]).map((t) => t.name)).toEqual(['latest', '0.9'])
  })

  it('checks a tag’s own destroyable flag over the repository’s', () => {
    const wrapper = mountGroups(false, [[tag(5, 'mine', 'sha256:cc', { destroyable: true })]])
    expect(wrapper.findAll('input[type=checkbox]')).toHaveLength(1)
  })

  it('copies the exact pull command of the clicked tag', async () => {
    const writeText = vi.fn(() => Promise.resolve())
    vi.stubGlobal('navigator', { clipboard: { writeText } })
    vi.stubGlobal('isSecureContext', true)
    const wrapper = mountGroups(false)
    await wrapper.findAll('button.tag-chip')[1]!.trigger('click')
    await vi.waitFor(() =>
      expect(writeText).toHaveBeenCalledWith('docker pull registry.example.org:5000/team/app:1.0'),
    )
    await vi.waitFor(() => expect(wrapper.text()).toContain('copied'))
    expect(wrapper.find('[role=status]').text()).toBe(
      'Copied: docker pull registry.example.org:5000/team/app:1.0',
    )
  })

  it('links every tag to its page when linked (signed in), and not otherwise', () => {
    const links = mountGroups(false, groups, true)
      .findAll('a')
      .map((a) => [a.text(), a.attributes('href')])
    expect(links).toEqual([
      ['Details of tag latest', '/repositories/1/tags/1'],
      ['Details of tag 1.0', '/repositories/1/tags/2'],
      ['Details of tag 0.9', '/repositories/1/tags/3'],
    ])
    expect(mountGroups(false).findAll('a')).toHaveLength(0)
  })
})
