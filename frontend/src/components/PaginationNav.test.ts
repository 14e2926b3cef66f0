import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import PaginationNav from './PaginationNav.vue'

describe('PaginationNav', () => {
  it('shows the ends and two pages around the current one, with gaps', () => {
    const wrapper = mount(PaginationNav, { props: { page: 10, totalPages: 20 } })
    const labels = wrapper.findAll('button').map((b) => b.text())
    expect(labels).toEqual(['Previous', '1', '8', '9', '10', '11', '12', '20', 'Next'])
    expect(wrapper.findAll('.gap')).toHaveLength(2)
    expect(wrapper.get('[aria-current=page]').text()).toBe('10')
  })

  it('emits the page asked for and disables what leads nowhere', async () => {
    const wrapper = mount(PaginationNav, { props: { page: 1, totalPages: 3 } })
    expect(wrapper.get('button').attributes('disabled')).toBeDefined()
    await wrapper
      .findAll('button')
      .find((b) => b.text() === 'Next')!
      .trigger('click')
    expect(wrapper.emitted('change')).toEqual([[2]])
  })

  it('is absent for a single page', () => {
    expect(
      mount(PaginationNav, { props: { page: 1, totalPages: 1 } })
        .find('nav')
        .exists(),
    ).toBe(false)
  })
})
