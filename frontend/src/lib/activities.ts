// One line of text per activity (Portus keys `<trackable>.<action>`), from what the feed carries.
import type { Activity } from '@/api/types'

const VERBS: Record<string, string> = {
  'repository.push': 'pushed',
  'repository.delete': 'deleted a tag of',
  'repository.star': 'starred',
  'repository.unstar': 'unstarred',
  'namespace.create': 'created',
  'namespace.change_team': 'moved the namespace to another team:',
  'namespace.change_visibility': 'changed the visibility of',
  'namespace.change_namespace_name': 'renamed the namespace',
  'namespace.change_namespace_description': 'changed the description of',
  'namespace.delete': 'deleted a repository of',
  'team.create': 'created the team',
  'team.add_member': 'added a member to',
  'team.remove_member': 'removed a member from',
  'team.change_member_role': 'changed a member’s role in',
  'team.change_team_name': 'renamed the team',
  'team.change_team_description': 'changed the description of',
  'team.migration': 'moved namespaces to',
  'registry.delete': 'deleted the namespace',
  'application_token.create': 'created the application token',
  'application_token.destroy': 'revoked the application token',
  'webhook.create': 'created a webhook in',
  'webhook.update': 'updated a webhook in',
  'webhook.destroy': 'deleted a webhook of',
  'webhook.enabled': 'enabled a webhook of',
  'webhook.disabled': 'disabled a webhook of',
  'user.create': 'created the user',
  'user.update': 'updated the user',
  'user.delete': 'deleted the user',
  'user.enabled': 'enabled a user',
  'user.disabled': 'disabled a user',
  'user.admin': 'made a user an administrator',
  'user.no_admin': 'removed a user’s administrator rights',
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value ? value : undefined

// Keys whose trackable is the object their verb names: the API's current name of it is the best
// text (null once the object is deleted; the recorded parameters are the fallback).
const NAMED_BY_TRACKABLE = ['repository.', 'namespace.', 'team.', 'user.']

function currentName(activity: Activity): string | undefined {
  if (!NAMED_BY_TRACKABLE.some((prefix) => activity.key.startsWith(prefix))) return undefined
  // A push names the tag pushed (`namespace/repository:tag`), while it exists.
  if (activity.key === 'repository.push') {
    return str(activity.recipient_name) ?? str(activity.trackable_name)
  }
  const name = str(activity.trackable_name)
  if (name && activity.key === 'namespace.create') return `the namespace ${name}`
  return name
}

export function activityObject(activity: Activity): string {
  const current = currentName(activity)
  if (current) return current
  const p = activity.parameters as Record<string, unknown>
  const repository = str(p.repository_name)
  const namespace = str(p.namespace_name)
  const tag = str(p.tag_name)
  if (repository) {
    const full = namespace ? `${namespace}/${repository}` : repository
    return tag ? `${full}:${tag}` : full
  }
  if (tag) return `tag ${tag}`
  if (activity.key === 'namespace.create') {
    return str(p.team) ? `a namespace of team ${str(p.team)}` : 'a namespace'
  }
  if (activity.key === 'namespace.change_visibility' && str(p.visibility)) {
    return `a namespace (now ${str(p.visibility)})`
  }
  return (
    str(p.new) ??
    namespace ??
    str(p.team) ??
    str(p.application) ??
    str(p.username) ??
    str(p.webhook_name) ??
    `${activity.trackable_type.toLowerCase()} #${activity.trackable_id ?? '?'}`
  )
}

export function describeActivity(activity: Activity): { who: string; what: string } {
  const who =
    activity.owner_name ??
    str((activity.parameters as Record<string, unknown>).owner_name) ??
    (activity.owner_id === null
      ? // Nobody did it: the registry's pushes and deletes (catalog sync), or Portus itself
        // (the first administrator's account).
        activity.key.startsWith('repository.')
        ? 'The registry'
        : 'Portus'
      : `user #${activity.owner_id}`)
  const verb = VERBS[activity.key] ?? activity.key.replace(/[._]/g, ' ')
  return { who, what: `${verb} ${activityObject(activity)}` }
}

/** Where the activity points to, when there is a page for it. */
export function activityLink(activity: Activity): string | undefined {
  if (activity.trackable_id === null) return undefined
  switch (activity.trackable_type) {
    case 'Repository':
      return `/repositories/${activity.trackable_id}`
    case 'Namespace':
      return `/namespaces/${activity.trackable_id}`
    case 'Team':
      return `/teams/${activity.trackable_id}`
    default:
      return undefined
  }
}
