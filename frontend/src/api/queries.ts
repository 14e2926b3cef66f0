// Reads that several pages share, including the ones the API does not offer directly yet.
import { api, untyped, unwrap } from './client'
import type { Namespace, Repository } from './types'

/**
 * The repositories of one namespace. Uses `GET /v1/namespaces/{id}/repositories` when the API
 * has it, else filters the caller's whole repository list (fine for small registries).
 */
export async function namespaceRepositories(namespaceId: number): Promise<Repository[]> {
  const direct = await untyped<Repository[]>(
    'GET',
    `/v1/namespaces/${namespaceId}/repositories?all=true`,
    { optional: true },
  )
  if (direct !== undefined) return direct
  const all = await unwrap(api.GET('/v1/repositories', { params: { query: { all: true } } }))
  return all.filter((repository) => repository.namespace.id === namespaceId)
}

/**
 * The namespaces of one team: `GET /v1/teams/{id}/namespaces` when the API has it, else the
 * caller's namespaces filtered.
 */
export async function teamNamespaces(teamId: number): Promise<Namespace[]> {
  const direct = await untyped<Namespace[]>('GET', `/v1/teams/${teamId}/namespaces?all=true`, {
    optional: true,
  })
  if (direct !== undefined) return direct
  const all = await unwrap(api.GET('/v1/namespaces', { params: { query: { all: true } } }))
  return all.filter((namespace) => namespace.team.id === teamId)
}

/** Usernames starting with `prefix` (for adding team members), or [] without the endpoint. */
export async function usernameTypeahead(prefix: string): Promise<string[]> {
  const query = new URLSearchParams({ q: prefix })
  const names = await untyped<string[]>('GET', `/v1/users/typeahead?${query.toString()}`, {
    optional: true,
  }).catch(() => undefined)
  return names ?? []
}

/** The total of a list endpoint, from its X-Total header (one row fetched). */
export async function countOf(
  path: '/v1/users' | '/v1/teams' | '/v1/namespaces' | '/v1/repositories' | '/v1/tags',
): Promise<number> {
  const { response, error } = await api.GET(path, { params: { query: { per_page: 1 } } })
  if (!response.ok) throw error instanceof Error ? error : new Error(`${path}: ${response.status}`)
  return Number.parseInt(response.headers.get('X-Total') ?? '0', 10) || 0
}
