// The one module that talks to the REST API (/api/v1). It knows how a browser authenticates
// (the session cookie the API sets on POST /v1/session, plus the CSRF token it hands out, sent
// back in X-CSRF-Token on every change), turns error bodies into ApiError messages, and reports
// a 401 so the app can send the person to the sign-in page.
import createClient, { type Client, type Middleware } from 'openapi-fetch'

import type { components, paths } from './schema'

export type Schemas = components['schemas']

/** An error answer of the API (or a network failure: status 0), ready to show. */
export class ApiError extends Error {
  readonly status: number
  /** A 422's problems per field, e.g. `{ name: ['has already been taken'] }`. */
  readonly fields: Record<string, string[]>

  constructor(status: number, message: string, fields: Record<string, string[]> = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.fields = fields
  }

  /** The problems of one field, joined, or undefined. */
  field(name: string): string | undefined {
    const problems = this.fields[name]
    return problems?.length ? problems.join(', ') : undefined
  }
}

const FALLBACK_MESSAGES: Record<number, string> = {
  0: 'Cannot reach the server. Check your connection and try again.',
  400: 'The request was not accepted.',
  401: 'You need to sign in.',
  403: 'You are not allowed to do this.',
  404: 'Not found.',
  405: 'This is disabled on this server.',
  409: 'Someone changed this at the same time. Try again.',
  413: 'That is too large.',
  422: 'Some values are not valid.',
  429: 'Too many attempts. Wait a moment and try again.',
  503: 'The server is busy. Try again in a moment.',
}

function fallbackMessage(status: number): string {
  return (
    FALLBACK_MESSAGES[status] ??
    (status >= 500
      ? 'The server failed to answer. Try again later.'
      : `Request failed (${status}).`)
  )
}

function humanField(field: string): string {
  const words = field.replace(/_/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** `{"message": "…"}` (a 400 names the parameter that is missing, unknown or of the wrong
 * type: `user[email] is missing`) or a 422's `{"message": {field: [problems]}}` (also
 * FastAPI's `detail`). */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object') {
    const record = body as Record<string, unknown>
    const message = record.message ?? record.detail
    if (typeof message === 'string' && message.trim()) return new ApiError(status, message)
    if (message && typeof message === 'object' && !Array.isArray(message)) {
      const fields: Record<string, string[]> = {}
      for (const [key, value] of Object.entries(message as Record<string, unknown>)) {
        const list = Array.isArray(value) ? value : [value]
        fields[key] = list.map((item) => String(item))
      }
      const text = Object.entries(fields)
        .map(([key, problems]) => `${humanField(key)} ${problems.join(', ')}`)
        .join('. ')
      return new ApiError(status, text || fallbackMessage(status), fields)
    }
  }
  return new ApiError(status, fallbackMessage(status))
}

export interface AuthHooks {
  /** The session's CSRF token, if a session is open. */
  csrfToken(): string | null
  /** A request was refused with 401 (the session ended): go to the sign-in page. */
  onUnauthorized(): void
}

let hooks: AuthHooks = { csrfToken: () => null, onUnauthorized: () => undefined }

export function configureAuth(next: AuthHooks): void {
  hooks = next
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
/** Requests whose 401 is an answer, not an ended session (who am I; a wrong password). */
const SILENT_401 = /\/v1\/session$/

export const authMiddleware: Middleware = {
  onRequest({ request }) {
    request.headers.set('Accept', 'application/json')
    if (!SAFE_METHODS.has(request.method)) {
      const token = hooks.csrfToken()
      if (token) request.headers.set('X-CSRF-Token', token)
    }
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !SILENT_401.test(new URL(request.url).pathname)) {
      hooks.onUnauthorized()
    }
    return response
  },
}

export type ApiClient = Client<paths>

export function createApi(options: { baseUrl?: string; fetch?: typeof fetch } = {}): ApiClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl ?? `${globalThis.location?.origin ?? 'http://localhost'}/api`,
    credentials: 'same-origin',
    fetch: options.fetch,
  })
  client.use(authMiddleware)
  return client
}

/** The application's client. */
export const api = createApi()

interface Answer {
  data?: unknown
  error?: unknown
  response: Response
}

type Data<R extends Answer> = [NonNullable<R['data']>] extends [never]
  ? void
  : NonNullable<R['data']>

async function settle<R extends Answer>(call: Promise<R>): Promise<R> {
  try {
    return await call
  } catch (error) {
    if (error instanceof ApiError) throw error
    throw new ApiError(0, fallbackMessage(0))
  }
}

/** The data of a successful answer; an ApiError otherwise. */
export async function unwrap<R extends Answer>(call: Promise<R>): Promise<Data<R>> {
  const answer = await settle(call)
  if (!answer.response.ok) throw errorFromBody(answer.response.status, answer.error)
  return answer.data as Data<R>
}

export interface Page<T> {
  items: T[]
  total: number
  totalPages: number
  page: number
  perPage: number
}

function intHeader(response: Response, name: string, fallback: number): number {
  const value = Number.parseInt(response.headers.get(name) ?? '', 10)
  return Number.isFinite(value) ? value : fallback
}

/** A list answer with its pagination headers (X-Total, X-Total-Pages, X-Page, X-Per-Page). */
export async function unwrapPage<T, R extends Answer & { data?: T[] }>(
  call: Promise<R>,
): Promise<Page<T>> {
  const answer = await settle(call)
  if (!answer.response.ok) throw errorFromBody(answer.response.status, answer.error)
  const items = answer.data ?? []
  const { response } = answer
  return {
    items,
    total: intHeader(response, 'X-Total', items.length),
    totalPages: Math.max(1, intHeader(response, 'X-Total-Pages', 1)),
    page: intHeader(response, 'X-Page', 1),
    perPage: intHeader(response, 'X-Per-Page', items.length),
  }
}

/**
 * An endpoint the generated schema does not know yet (new API work lands separately): same
 * authentication and errors, untyped answer. Resolves to undefined on 404 when `optional`.
 */
export async function untyped<T>(
  method: string,
  path: string,
  options: { body?: unknown; optional?: boolean; fetch?: typeof fetch } = {},
): Promise<T | undefined> {
  const headers = new Headers({ Accept: 'application/json' })
  if (options.body !== undefined) headers.set('Content-Type', 'application/json')
  if (!SAFE_METHODS.has(method)) {
    const token = hooks.csrfToken()
    if (token) headers.set('X-CSRF-Token', token)
  }
  let response: Response
  try {
    response = await (options.fetch ?? fetch)(`/api${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    })
  } catch {
    throw new ApiError(0, fallbackMessage(0))
  }
  if (response.status === 404 && options.optional) return undefined
  const text = await response.text()
  let body: unknown = undefined
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = undefined
  }
  if (!response.ok) {
    if (response.status === 401) hooks.onUnauthorized()
    throw errorFromBody(response.status, body)
  }
  return body as T
}
