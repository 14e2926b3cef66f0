// Names for the API's types, and the optional fields the API is gaining (permission flags,
// counts, author names): the UI reads them when present and degrades when not.
import type { Schemas } from './client'

export type User = Schemas['UserRead']
export type Team = Schemas['TeamRead'] & {
  role?: string | null
  members_count?: number | null
  namespaces_count?: number | null
  updatable?: boolean
  destroyable?: boolean
}
export type Member = Schemas['MemberRead'] & {
  display_name?: string | null
  avatar_url?: string | null
  current?: boolean
}
export type Visibility = 'private' | 'protected' | 'public'

export interface NamespacePermissions {
  role?: string | null
  pull?: boolean
  push?: boolean
  webhooks?: boolean
  visibility?: boolean
}

export type Namespace = Schemas['NamespaceRead'] & {
  repositories_count?: number | null
  webhooks_count?: number | null
  orphan?: boolean
  updatable?: boolean
  destroyable?: boolean
  permissions?: NamespacePermissions
}

export interface RepositoryPermissions {
  role?: string | null
  pull?: boolean
  push?: boolean
}

export type Repository = Schemas['RepositoryRead'] & {
  stars?: number | null
  starred?: boolean
  destroyable?: boolean
  permissions?: RepositoryPermissions
}
export type RepositoryDetail = Schemas['RepositoryDetail'] & {
  updatable?: boolean
  permissions?: RepositoryPermissions
}
export type Tag = Schemas['TagRead'] & { destroyable?: boolean }
export type Comment = Schemas['CommentRead'] & {
  author?: { id?: number | null; name?: string | null; avatar_url?: string | null } | null
  destroyable?: boolean
}
export type Activity = Schemas['ActivityRead']
export type SearchHit = Schemas['SearchHit'] & {
  stars?: number | null
  updated_at?: string | null
  tags_count?: number | null
}
export type ApplicationToken = Schemas['ApplicationTokenRead']
export type Registry = Schemas['RegistryRead']
export type TagDetails = Schemas['TagDetails']
export type ImageDetails = Schemas['ImageRead']
