import { describe, expect, it } from 'vitest'

import type { Comment, Namespace, RepositoryDetail, Tag } from '@/api/types'
import { fixture } from '@/test/helpers'

import {
  canChangeVisibility,
  canCreateNamespace,
  canDeleteComment,
  canDeleteNamespace,
  canDeleteTag,
  canEditNamespace,
} from './permissions'
import { DEFAULT_SETTINGS } from './settings'

const admin = { id: 1, admin: true }
const alice = { id: 2, admin: false }

function namespace(extra: object = {}): Namespace {
  return fixture<Namespace>({
    id: 5,
    name: 'qa',
    description: null,
    visibility: 'private',
    global: false,
    team: { id: 3, name: 'qa', hidden: false },
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    ...extra,
  })
}

describe('namespace actions', () => {
  it('follow the API flags when the answer has them', () => {
    const flagged = namespace({
      updatable: true,
      destroyable: false,
      permissions: { visibility: true, role: 'owner' },
    })
    expect(canEditNamespace(flagged, alice)).toBe(true)
    expect(canChangeVisibility(flagged, alice)).toBe(true)
    expect(canDeleteNamespace(flagged, admin)).toBe(false)
  })

  it('fall back to administrators only without flags', () => {
    const plain = namespace()
    expect(canEditNamespace(plain, alice)).toBe(false)
    expect(canChangeVisibility(plain, alice)).toBe(false)
    expect(canDeleteNamespace(plain, alice)).toBe(false)
    expect(canEditNamespace(plain, admin)).toBe(true)
    expect(canDeleteNamespace(plain, admin)).toBe(true)
    expect(canEditNamespace(plain, null)).toBe(false)
  })

  it('never offer deleting the global namespace, nor deleting when delete is off', () => {
    expect(canDeleteNamespace(namespace({ global: true }), admin)).toBe(false)
    expect(canDeleteNamespace(namespace(), admin, { deleteEnabled: false })).toBe(false)
  })

  it('let users create namespaces unless the server says only administrators may', () => {
    expect(canCreateNamespace(alice, DEFAULT_SETTINGS)).toBe(true)
    expect(canCreateNamespace(alice, { ...DEFAULT_SETTINGS, createNamespace: false })).toBe(false)
    expect(canCreateNamespace(admin, { ...DEFAULT_SETTINGS, createNamespace: false })).toBe(true)
    expect(canCreateNamespace(null, DEFAULT_SETTINGS)).toBe(false)
  })
})

describe('tags and comments', () => {
  const repository = { destroyable: false } as RepositoryDetail

  it('a tag is deletable by its own flag, else by the repository’s', () => {
    expect(canDeleteTag({ destroyable: true } as Tag, repository)).toBe(true)
    expect(canDeleteTag({} as Tag, repository)).toBe(false)
    expect(canDeleteTag({} as Tag, { destroyable: true } as RepositoryDetail)).toBe(true)
  })

  it('a comment is deletable by its author and administrators', () => {
    const mine = { user_id: 2 } as Comment
    const theirs = { user_id: 9 } as Comment
    expect(canDeleteComment(mine, alice)).toBe(true)
    expect(canDeleteComment(theirs, alice)).toBe(false)
    expect(canDeleteComment(theirs, admin)).toBe(true)
    expect(canDeleteComment({ user_id: null } as Comment, alice)).toBe(false)
    expect(canDeleteComment({ ...theirs, destroyable: true }, alice)).toBe(true)
    expect(canDeleteComment(mine, null)).toBe(false)
  })
})
