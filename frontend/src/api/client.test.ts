import { describe, expect, it, vi } from 'vitest'

import {
  ApiError,
  configureAuth,
  createApi,
  errorFromBody,
  untyped,
  unwrap,
  unwrapPage,
} from './client'

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  })
}

/** A client whose fetch records each request and answers with `answer`. */
function clientAnswering(answer: (request: Request) => Response) {
  const requests: Request[] = []
  const fetch = vi.fn((input: Request) => {
    requests.push(input)
    return Promise.resolve(answer(input))
  }) as unknown as typeof globalThis.fetch
  return { client: createApi({ baseUrl: 'http://portus.test/api', fetch }), requests }
}

describe('errorFromBody', () => {
  it('reads the {"message": "…"} envelope', () => {
    const error = errorFromBody(403, { message: 'Authorization fails' })
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(403)
    expect(error.message).toBe('Authorization fails')
  })

  it('turns a 422 field hash into fields and a readable message', () => {
    const error = errorFromBody(422, {
      message: { name: ['has already been taken'], team_name: ['is unknown', 'is hidden'] },
    })
    expect(error.fields).toEqual({
      name: ['has already been taken'],
      team_name: ['is unknown', 'is hidden'],
    })
    expect(error.field('team_name')).toBe('is unknown, is hidden')
    expect(error.field('missing')).toBeUndefined()
    expect(error.message).toBe('Name has already been taken. Team name is unknown, is hidden')
  })

  it('shows a 400 (malformed JSON, a parameter missing or of the wrong type) as its message', () => {
    const error = errorFromBody(400, { message: 'user[email] is missing' })
    expect(error.status).toBe(400)
    expect(error.message).toBe('user[email] is missing')
    expect(error.fields).toEqual({})
  })

  it('falls back to a message per status when the body says nothing', () => {
    expect(errorFromBody(404, undefined).message).toBe('Not found.')
    expect(errorFromBody(502, 'Bad gateway').message).toMatch(/server failed/)
    expect(errorFromBody(418, {}).message).toBe('Request failed (418).')
  })
})

describe('the client', () => {
  it('sends the CSRF token on changes only', async () => {
    configureAuth({ csrfToken: () => 'csrf-123', onUnauthorized: () => undefined })
    const { client, requests } = clientAnswering(() => json(200, []))
    await client.GET('/v1/namespaces')
    await client.POST('/v1/repositories/{repository_id}/star', {
      params: { path: { repository_id: 7 } },
    })
    expect(requests[0]!.headers.get('X-CSRF-Token')).toBeNull()
    expect(requests[1]!.method).toBe('POST')
    expect(requests[1]!.headers.get('X-CSRF-Token')).toBe('csrf-123')
    expect(requests[1]!.url).toBe('http://portus.test/api/v1/repositories/7/star')
  })

  it('sends no CSRF header without a session', async () => {
    configureAuth({ csrfToken: () => null, onUnauthorized: () => undefined })
    const { client, requests } = clientAnswering(() => json(204, undefined))
    await client.DELETE('/v1/tags/{tag_id}', { params: { path: { tag_id: 3 } } })
    expect(requests[0]!.headers.has('X-CSRF-Token')).toBe(false)
  })

  it('reports a 401 as an ended session, except from /v1/session itself', async () => {
    const onUnauthorized = vi.fn()
    configureAuth({ csrfToken: () => null, onUnauthorized })
    const { client } = clientAnswering(() => json(401, { message: 'Authentication fails' }))
    await client.GET('/v1/session')
    expect(onUnauthorized).not.toHaveBeenCalled()
    await client.GET('/v1/repositories')
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
  })
})

describe('unwrap', () => {
  it('returns the data of a success', async () => {
    const { client } = clientAnswering(() => json(200, { valid: true, messages: {} }))
    const answer = await unwrap(
      client.GET('/v1/namespaces/validate', { params: { query: { name: 'x' } } }),
    )
    expect(answer.valid).toBe(true)
  })

  it('throws an ApiError with the API message', async () => {
    const { client } = clientAnswering(() => json(405, { message: 'sign-up is disabled' }))
    const call = unwrap(
      client.POST('/v1/users/signup', {
        body: { user: { username: 'a', email: 'a@b.c', password: 'secret-pw' } },
      }),
    )
    await expect(call).rejects.toMatchObject({ status: 405, message: 'sign-up is disabled' })
  })

  it('makes a network failure an ApiError with status 0', async () => {
    const fetch = vi.fn(() => Promise.reject(new TypeError('Failed to fetch')))
    const client = createApi({
      baseUrl: 'http://portus.test/api',
      fetch: fetch as unknown as typeof globalThis.fetch,
    })
    await expect(unwrap(client.GET('/v1/teams'))).rejects.toMatchObject({ status: 0 })
  })

  it('reads the pagination headers of a list', async () => {
    const { client } = clientAnswering(() =>
      json(200, [{ id: 1 }], {
        'X-Total': '41',
        'X-Total-Pages': '3',
        'X-Page': '2',
        'X-Per-Page': '20',
      }),
    )
    const page = await unwrapPage(
      client.GET('/v1/repositories', { params: { query: { page: 2 } } }),
    )
    expect(page).toMatchObject({ total: 41, totalPages: 3, page: 2, perPage: 20 })
    expect(page.items).toHaveLength(1)
  })
})

describe('untyped', () => {
  it('answers undefined for a missing optional endpoint', async () => {
    const fetch = vi.fn(() => Promise.resolve(json(404, { message: 'Not found' })))
    const answer = await untyped('GET', '/v1/settings', {
      optional: true,
      fetch: fetch as unknown as typeof globalThis.fetch,
    })
    expect(answer).toBeUndefined()
  })

  it('throws the error of other failures', async () => {
    const fetch = vi.fn(() => Promise.resolve(json(500, { message: 'boom' })))
    await expect(
      untyped('GET', '/v1/settings', { fetch: fetch as unknown as typeof globalThis.fetch }),
    ).rejects.toMatchObject({ status: 500, message: 'boom' })
  })
})
