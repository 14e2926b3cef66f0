import { describe, expect, it } from 'vitest'

import type { Activity } from '@/api/types'
import { activityObject, describeActivity } from '@/lib/activities'

function activity(overrides: Partial<Activity>): Activity {
  return {
    id: 1,
    key: 'repository.push',
    trackable_type: 'Repository',
    trackable_id: 7,
    owner_id: 3,
    owner_name: 'alice',
    recipient_type: 'Tag',
    recipient_id: 9,
    parameters: {},
    created_at: '2026-12-07T06:00:00Z',
    ...overrides,
  }
}

describe('activities', () => {
  it('names the tag a push made, by its current name', () => {
    const push = activity({ trackable_name: 'team/app', recipient_name: 'team/app:v1' })
    expect(describeActivity(push)).toEqual({ who: 'alice', what: 'pushed team/app:v1' })
  })

  it('falls back to the repository once the tag is gone, then to what was recorded', () => {
    expect(activityObject(activity({ trackable_name: 'team/app', recipient_name: null }))).toBe(
      'team/app',
    )
    const gone = activity({
      trackable_name: null,
      recipient_name: null,
      parameters: { namespace_name: 'team', repository_name: 'app', tag_name: 'v1' },
    })
    expect(activityObject(gone)).toBe('team/app:v1')
  })

  it('names a new namespace', () => {
    const created = activity({
      key: 'namespace.create',
      trackable_type: 'Namespace',
      trackable_name: 'acme',
      parameters: { team: 'devs' },
    })
    expect(activityObject(created)).toBe('the namespace acme')
    expect(activityObject({ ...created, trackable_name: null })).toBe('a namespace of team devs')
  })

  it('does not take a webhook or token trackable for the object of its verb', () => {
    const webhook = activity({
      key: 'webhook.create',
      trackable_type: 'Webhook',
      trackable_name: 'ci-hook',
      parameters: { namespace_name: 'acme' },
    })
    expect(activityObject(webhook)).toBe('acme')
  })

  it('says who did it when nobody did: the registry for its pushes, else Portus', () => {
    const sync = activity({ owner_id: null, owner_name: null })
    expect(describeActivity(sync).who).toBe('The registry')
    const first = activity({
      key: 'user.create',
      trackable_type: 'User',
      owner_id: null,
      owner_name: null,
    })
    expect(describeActivity(first).who).toBe('Portus')
  })
})
