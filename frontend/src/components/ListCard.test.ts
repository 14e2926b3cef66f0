import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { ref, shallowRef } from 'vue'

import { ApiError, type Page } from '@/api/client'
import type { AsyncState } from '@/composables/useAsync'

import ListCard from './ListCard.vue'

function state<T>(data: T | undefined, error: ApiError | null = null): AsyncState<T> {
  return {
    data: shallowRef(data),
    error: shallowRef(error),
    loading: ref(false),
    run: () => Promise.resolve(),
  }
}

const slots = {
  head: '<tr><th scope="col">Name</th></tr>',
  default: '<tr><td>one</td></tr>',
  footer: '<form aria-label="Add"></form>',
}

describe('ListCard', () => {
  it('labels the card by its title, with the count, and captions the table', () => {
    const page: Page<string> = { items: ['one'], total: 12, totalPages: 2, page: 1, perPage: 10 }
    const wrapper = mount(ListCard, {
      props: { title: 'Users', name: 'users', state: state(page), count: 12 },
      slots,
    })
    expect(wrapper.get('section').attributes('aria-labelledby')).toBe('users-title')
    expect(wrapper.get('#users-title').text()).toBe('Users 12')
    expect(wrapper.get('caption').text()).toBe('Users')
    expect(wrapper.get('tbody').text()).toBe('one')
    expect(wrapper.find('form').exists()).toBe(true)
  })

  it('says when the list is empty (array or page), and keeps the footer', () => {
    const wrapper = mount(ListCard, {
      props: { title: 'Teams', name: 'teams', state: state([]), emptyText: 'No teams.' },
      slots,
    })
    expect(wrapper.find('table').exists()).toBe(false)
    expect(wrapper.text()).toContain('No teams.')
    expect(wrapper.find('form').exists()).toBe(true)
  })

  it('shows the error with a retry instead of the list', () => {
    const wrapper = mount(ListCard, {
      props: {
        title: 'Teams',
        name: 'teams',
        state: state<string[]>(undefined, new ApiError(500, 'Boom')),
      },
      slots,
    })
    expect(wrapper.get('[role=alert]').text()).toContain('Boom')
    expect(wrapper.find('table').exists()).toBe(false)
  })
})
