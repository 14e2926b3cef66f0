import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import type { ImageDetails as Image, TagDetails } from '@/api/types'
import { fixture } from '@/test/helpers'

import ImageDetails from './ImageDetails.vue'

function image(arch: string, extra: Partial<Image> = {}): Image {
  return fixture<Image>({
    digest: `sha256:${arch}manifest`,
    media_type: 'application/vnd.oci.image.manifest.v1+json',
    os: 'linux',
    architecture: arch,
    variant: null,
    os_version: null,
    created: '2026-12-01T10:00:00Z',
    author: null,
    size: 3 * 1024 * 1024,
    config_digest: `sha256:${arch}config`,
    labels: { 'org.opencontainers.image.title': 'app', maintainer: 'ops@example.org' },
    entrypoint: ['/bin/app'],
    cmd: ['--serve'],
    layers: [
      { digest: 'sha256:1111111111111111111111', media_type: null, size: 2 * 1024 * 1024 },
      { digest: 'sha256:2222222222222222222222', media_type: null, size: 1024 * 1024 },
    ],
    history: [
      {
        created: '2026-12-01T09:00:00Z',
        created_by: '/bin/sh -c #(nop) ADD file:abc in / ',
        author: null,
        comment: null,
        empty_layer: false,
      },
      {
        created: '2026-12-01T09:01:00Z',
        created_by: '/bin/sh -c apk add curl',
        author: null,
        comment: 'buildkit',
        empty_layer: false,
      },
      {
        created: '2026-12-01T09:02:00Z',
        created_by: '/bin/sh -c #(nop)  CMD ["--serve"]',
        author: null,
        comment: null,
        empty_layer: true,
      },
    ],
    ...extra,
  })
}

function details(platforms: Image[], extra: Partial<TagDetails> = {}): TagDetails {
  return fixture<TagDetails>({
    id: 7,
    name: 'latest',
    repository: 'team/app',
    digest: 'sha256:index',
    media_type: null,
    multi_platform: platforms.length > 1,
    platforms_total: platforms.length,
    platforms,
    ...extra,
  })
}

describe('ImageDetails', () => {
  it('lists the layers with their sizes and the total', () => {
    const wrapper = mount(ImageDetails, { props: { details: details([image('amd64')]) } })
    const rows = wrapper.findAll('table.layers tbody tr').map((row) => row.text())
    expect(rows).toHaveLength(2)
    expect(rows[0]).toContain('1111111111111111')
    expect(rows[0]).toContain('2.0 MiB')
    expect(wrapper.get('table.layers tfoot').text()).toContain('Total (2 layers)')
    expect(wrapper.get('table.layers tfoot').text()).toContain('3.0 MiB')
  })

  it('shows labels sorted, entrypoint and command, and the history as build steps', () => {
    const wrapper = mount(ImageDetails, { props: { details: details([image('amd64')]) } })
    const keys = wrapper.findAll('.labels dt').map((dt) => dt.text())
    expect(keys).toEqual(['maintainer', 'org.opencontainers.image.title'])
    expect(wrapper.text()).toContain('/bin/app')
    const steps = wrapper.findAll('.history-step').map((step) => step.text())
    expect(steps).toEqual(['ADD file:abc in /', 'RUN apk add curl', 'CMD ["--serve"]'])
    expect(wrapper.findAll('.history .badge').map((badge) => badge.text())).toEqual(['no layer'])
  })

  it('says when there are no labels, layers or history', () => {
    const bare = image('amd64', { labels: {}, layers: [], history: [] })
    const text = mount(ImageDetails, { props: { details: details([bare]) } }).text()
    expect(text).toContain('No labels.')
    expect(text).toContain('No layers.')
    expect(text).toContain('No build history.')
  })

  it('switches between the platforms of a manifest list', async () => {
    const arm = image('arm64', { variant: 'v8', layers: [] })
    const wrapper = mount(ImageDetails, {
      props: { details: details([image('amd64'), arm], { platforms_total: 40 }) },
    })
    const buttons = wrapper.findAll('[role=group] button')
    expect(buttons.map((button) => button.text())).toEqual(['linux/amd64', 'linux/arm64/v8'])
    expect(buttons[0]!.attributes('aria-pressed')).toBe('true')
    expect(wrapper.text()).toContain('40 platforms')
    expect(wrapper.text()).toContain('the first 2 are shown')
    await buttons[1]!.trigger('click')
    expect(wrapper.get('h3').text()).toContain('linux/arm64/v8')
    expect(wrapper.text()).toContain('sha256:arm64manifest')
    expect(wrapper.text()).toContain('No layers.')
  })

  it('hides the platform choice for a single image', () => {
    const wrapper = mount(ImageDetails, { props: { details: details([image('amd64')]) } })
    expect(wrapper.find('[role=group]').exists()).toBe(false)
  })
})
