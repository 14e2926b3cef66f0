import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import type { Namespace } from '@/api/types'
import VisibilityChooser from '@/components/VisibilityChooser.vue'
import { fixture, testRouter } from '@/test/helpers'

import NamespaceTable from './NamespaceTable.vue'

function namespace(id: number, extra: object = {}): Namespace {
  return fixture<Namespace>({
    id,
    name: `ns${id}`,
    description: null,
    visibility: 'protected',
    global: false,
    team: { id: 1, name: 'team', hidden: false },
    created_at: '2026-12-01T10:00:00Z',
    updated_at: '2026-12-01T10:00:00Z',
    ...extra,
  })
}

function mountTable(namespaces: Namespace[], viewer: { id: number; admin: boolean }) {
  return mount(NamespaceTable, {
    props: { namespaces, viewer, caption: 'Namespaces' },
    global: { plugins: [testRouter()] },
  })
}

describe('NamespaceTable', () => {
  it('shows the visibility chooser only where the API allows changing it', () => {
    const wrapper = mountTable(
      [namespace(1, { permissions: { visibility: true } }), namespace(2)],
      { id: 7, admin: false },
    )
    expect(wrapper.findAllComponents(VisibilityChooser)).toHaveLength(1)
    expect(wrapper.findAll('tbody tr')[1]!.find('.badge-protected').text()).toBe('protected')
  })

  it('never offers private for the global namespace', () => {
    const wrapper = mountTable([namespace(1, { global: true, visibility: 'public' })], {
      id: 1,
      admin: true,
    })
    const choices = wrapper.findAll('[role=radio]').map((b) => b.text())
    expect(choices).toEqual(['Protected', 'Public'])
  })

  it('emits the chosen visibility', async () => {
    const wrapper = mountTable([namespace(3)], { id: 1, admin: true })
    const selected = wrapper.get('[aria-checked=true]')
    expect(selected.text()).toBe('Protected')
    await wrapper
      .findAll('[role=radio]')
      .find((b) => b.text() === 'Public')!
      .trigger('click')
    const [[target, value]] = wrapper.emitted('visibility') as [[Namespace, string]]
    expect(target.id).toBe(3)
    expect(value).toBe('public')
  })

  it("shows the global namespace as the registry's host (the API's display name)", () => {
    const wrapper = mountTable(
      [
        namespace(1, {
          name: 'portus_global_namespace_1',
          display_name: 'registry.example.org:5000',
          global: true,
        }),
        namespace(2, { display_name: 'ns2' }),
      ],
      { id: 1, admin: true },
    )
    const names = wrapper.findAll('td.cell-main a').map((a) => a.text())
    expect(names).toEqual(['registry.example.org:5000', 'ns2'])
    expect(wrapper.text()).not.toContain('portus_global_namespace_1')
  })
})
