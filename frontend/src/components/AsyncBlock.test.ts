import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { describe, expect, it } from 'vitest'

import { ApiError } from '@/api/client'
import { testRouter } from '@/test/helpers'

import AsyncBlock from './AsyncBlock.vue'

const content = { slots: { default: '<p class="content">the list</p>' } }

describe('AsyncBlock', () => {
  it('says it is loading, busy for assistive technology', () => {
    const wrapper = mount(AsyncBlock, { props: { loading: true }, ...content })
    expect(wrapper.text()).toContain('Loading…')
    expect(wrapper.attributes('aria-busy')).toBe('true')
    expect(wrapper.find('.content').exists()).toBe(false)
  })

  it('shows the error with a retry that asks again', async () => {
    const wrapper = mount(AsyncBlock, {
      props: { loading: false, error: new ApiError(503, 'The server is busy.') },
      ...content,
    })
    expect(wrapper.get('[role=alert]').text()).toContain('The server is busy.')
    await wrapper.get('button').trigger('click')
    expect(wrapper.emitted('retry')).toHaveLength(1)
  })

  it('shows the empty text, else the content', () => {
    const empty = mount(AsyncBlock, {
      props: { loading: false, empty: true, emptyText: 'No tags.' },
      ...content,
    })
    expect(empty.text()).toBe('No tags.')
    const full = mount(AsyncBlock, { props: { loading: false }, ...content })
    expect(full.find('.content').exists()).toBe(true)
  })

  it('as a whole page, shows the error page for its status in place', () => {
    setActivePinia(createPinia())
    const wrapper = mount(AsyncBlock, {
      props: { loading: false, page: true, error: new ApiError(403, 'Forbidden') },
      global: { plugins: [testRouter()] },
      ...content,
    })
    expect(wrapper.get('h1').text()).toBe('You may not see this page')
    expect(wrapper.find('.content').exists()).toBe(false)
  })
})
