// What the UI offers. The API decides (and refuses what it must); these only choose which
// buttons to show. Each reads the API's own flag when the answer carries it (`updatable`,
// `destroyable`, `permissions{…}`), and otherwise falls back to what the caller knows for sure:
// administrators may do everything, the author of a comment may delete it.
import type { Comment, Namespace, RepositoryDetail, Tag, Team, User } from '@/api/types'

import type { PublicSettings } from './settings'

export type Viewer = Pick<User, 'id' | 'admin'> | null | undefined

const isAdmin = (viewer: Viewer): boolean => viewer?.admin === true

export function canEditNamespace(namespace: Namespace, viewer: Viewer): boolean {
  return namespace.updatable ?? isAdmin(viewer)
}

export function canChangeVisibility(namespace: Namespace, viewer: Viewer): boolean {
  return namespace.permissions?.visibility ?? isAdmin(viewer)
}

export function canDeleteNamespace(
  namespace: Namespace,
  viewer: Viewer,
  settings?: Pick<PublicSettings, 'deleteEnabled'>,
): boolean {
  if (namespace.destroyable !== undefined) return namespace.destroyable
  return isAdmin(viewer) && settings?.deleteEnabled !== false && !namespace.global
}

export function canManageWebhooks(namespace: Namespace, viewer: Viewer): boolean {
  return namespace.permissions?.webhooks ?? isAdmin(viewer)
}

/** The description: administrators and the namespace's owners (Portus). */
export function canEditRepository(repository: RepositoryDetail, viewer: Viewer): boolean {
  return repository.updatable ?? (isAdmin(viewer) || repository.permissions?.role === 'owner')
}

export function canDeleteRepository(repository: RepositoryDetail): boolean {
  return repository.destroyable
}

export function canDeleteTag(tag: Tag, repository: RepositoryDetail): boolean {
  return tag.destroyable ?? repository.destroyable
}

export function canDeleteComment(comment: Comment, viewer: Viewer): boolean {
  if (comment.destroyable !== undefined) return comment.destroyable
  if (!viewer) return false
  return viewer.admin || (comment.user_id !== null && comment.user_id === viewer.id)
}

export function canEditTeam(team: Team, viewer: Viewer): boolean {
  return team.updatable ?? (isAdmin(viewer) || team.role === 'owner')
}

export function canDeleteTeam(team: Team, viewer: Viewer): boolean {
  return team.destroyable ?? isAdmin(viewer)
}

export function canCreateNamespace(viewer: Viewer, settings: PublicSettings): boolean {
  if (!viewer) return false
  return isAdmin(viewer) || settings.createNamespace
}

export function canCreateTeam(viewer: Viewer, settings: PublicSettings): boolean {
  if (!viewer) return false
  return isAdmin(viewer) || settings.createTeam
}
