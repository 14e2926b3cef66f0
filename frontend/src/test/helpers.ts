// Shared test setup: a memory router with the app's route names, and JSON answers.
import { createMemoryHistory, createRouter, type Router } from 'vue-router'

const Stub = { render: () => null }

export function testRouter(): Router {
  return createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', component: Stub },
      { path: '/:path(.*)*', component: Stub },
    ],
  })
}

export function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

/** A test object with the fields a test needs, typed as the API's type (which may gain fields). */
export function fixture<T>(value: object): T {
  return value as T
}
