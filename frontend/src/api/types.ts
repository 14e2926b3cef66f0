// Names for the API's types, and the optional fields the API is gaining (permission flags,
// counts, author names): the UI reads them when present and degrades when not.
import type { Schemas } from './client'

export type User = Schemas['UserRead']
export type Team = Schemas['TeamRead'] & {
  role?: string | null
  users_count?: number
  namespaces_count?: number
  updatable?: boolean
  destroyable?: boolean
}
export type Member = Schemas['MemberRead'] & { display_name?: string | null }
export type Visibility = 'private' | 'protected' | 'public'

export interface NamespacePermissions {
  role?: string | null
  pull?: boolean
  push?: boolean
  webhooks?: boolean
  visibility?: boolean
}

export type Namespace = Schemas['NamespaceRead'] & {
  repositories_count?: number
  webhooks_count?: number
  orphan?: boolean
  updatable?: boolean
  destroyable?: boolean
  permissions?: NamespacePermissions
}

export type Repository = Schemas['RepositoryRead'] & {
  stars?: number
  starred?: boolean
  destroyable?: boolean
}
export type RepositoryDetail = Schemas['RepositoryDetail'] & { updatable?: boolean }
export type Tag = Schemas['TagRead'] & { destroyable?: boolean }
export type Comment = Schemas['CommentRead'] & {
  author?: { id?: number | null; name?: string | null; avatar_url?: string | null } | null
  destroyable?: boolean
}
export type Activity = Schemas['ActivityRead']
export type SearchHit = Schemas['SearchHit'] & {
  stars?: number
  updated_at?: string
  tags_count?: number
}
export type ApplicationToken = Schemas['ApplicationTokenRead']
export type Registry = Schemas['RegistryRead']
