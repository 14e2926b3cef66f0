import {
  createRouter,
  createWebHistory,
  type RouteLocationNormalized,
  type RouteRecordRaw,
} from 'vue-router'

import ErrorPage from '@/pages/ErrorPage.vue'
import { useAuthStore } from '@/stores/auth'
import { useSettingsStore } from '@/stores/settings'

/** public: anyone; guest: only signed-out people (sign in…); user: signed in; admin: admins. */
export type Access = 'public' | 'guest' | 'user' | 'admin'

declare module 'vue-router' {
  interface RouteMeta {
    access?: Access
    title?: string
    /** `bare`: the sign-in card layout; otherwise the app frame. */
    layout?: 'bare' | 'app'
  }
}

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: { render: () => null }, meta: { access: 'public' } },
  {
    path: '/sign_in',
    alias: ['/users/sign_in', '/login'],
    name: 'sign-in',
    component: () => import('@/pages/auth/SignInPage.vue'),
    meta: { access: 'guest', title: 'Sign in', layout: 'bare' },
  },
  {
    path: '/sign_up',
    alias: ['/users/sign_up'],
    name: 'sign-up',
    component: () => import('@/pages/auth/SignUpPage.vue'),
    meta: { access: 'guest', title: 'Sign up', layout: 'bare' },
  },
  {
    path: '/password/new',
    alias: ['/users/password/new'],
    name: 'password-request',
    component: () => import('@/pages/auth/PasswordRequestPage.vue'),
    meta: { access: 'guest', title: 'Forgot your password?', layout: 'bare' },
  },
  {
    path: '/password_reset',
    name: 'password-reset',
    component: () => import('@/pages/auth/PasswordResetPage.vue'),
    meta: { access: 'public', title: 'Choose a new password', layout: 'bare' },
  },
  {
    path: '/oauth/username',
    name: 'oauth-username',
    component: () => import('@/pages/auth/OAuthUsernamePage.vue'),
    meta: { access: 'guest', title: 'Choose your username', layout: 'bare' },
  },
  {
    path: '/explore',
    name: 'explore',
    component: () => import('@/pages/ExplorePage.vue'),
    meta: { access: 'public', title: 'Explore' },
  },
  {
    path: '/dashboard',
    name: 'dashboard',
    component: () => import('@/pages/DashboardPage.vue'),
    meta: { access: 'user', title: 'Dashboard' },
  },
  {
    path: '/search',
    name: 'search',
    component: () => import('@/pages/SearchPage.vue'),
    meta: { access: 'user', title: 'Search' },
  },
  {
    path: '/namespaces',
    name: 'namespaces',
    component: () => import('@/pages/namespaces/NamespacesPage.vue'),
    meta: { access: 'user', title: 'Namespaces' },
  },
  {
    path: '/namespaces/:id(\\d+)',
    name: 'namespace',
    component: () => import('@/pages/namespaces/NamespacePage.vue'),
    props: (route: RouteLocationNormalized) => ({ id: Number(route.params.id) }),
    meta: { access: 'user', title: 'Namespace' },
  },
  {
    path: '/namespaces/:namespaceId(\\d+)/webhooks',
    name: 'webhooks',
    component: () => import('@/pages/webhooks/WebhooksPage.vue'),
    props: (route: RouteLocationNormalized) => ({ namespaceId: Number(route.params.namespaceId) }),
    meta: { access: 'user', title: 'Webhooks' },
  },
  {
    path: '/namespaces/:namespaceId(\\d+)/webhooks/:id(\\d+)',
    name: 'webhook',
    component: () => import('@/pages/webhooks/WebhookPage.vue'),
    props: (route: RouteLocationNormalized) => ({
      namespaceId: Number(route.params.namespaceId),
      id: Number(route.params.id),
    }),
    meta: { access: 'user', title: 'Webhook' },
  },
  {
    path: '/repositories',
    name: 'repositories',
    component: () => import('@/pages/repositories/RepositoriesPage.vue'),
    meta: { access: 'user', title: 'Repositories' },
  },
  {
    path: '/repositories/:id(\\d+)',
    name: 'repository',
    component: () => import('@/pages/repositories/RepositoryPage.vue'),
    props: (route: RouteLocationNormalized) => ({ id: Number(route.params.id) }),
    meta: { access: 'public', title: 'Repository' },
  },
  {
    path: '/repositories/:id(\\d+)/tags/:tagId(\\d+)',
    name: 'tag',
    component: () => import('@/pages/repositories/TagPage.vue'),
    props: (route: RouteLocationNormalized) => ({
      repositoryId: Number(route.params.id),
      id: Number(route.params.tagId),
    }),
    meta: { access: 'user', title: 'Tag' },
  },
  {
    path: '/teams',
    name: 'teams',
    component: () => import('@/pages/teams/TeamsPage.vue'),
    meta: { access: 'user', title: 'Teams' },
  },
  {
    path: '/teams/:id(\\d+)',
    name: 'team',
    component: () => import('@/pages/teams/TeamPage.vue'),
    props: (route: RouteLocationNormalized) => ({ id: Number(route.params.id) }),
    meta: { access: 'user', title: 'Team' },
  },
  {
    path: '/profile',
    alias: ['/users/edit'],
    name: 'profile',
    component: () => import('@/pages/ProfilePage.vue'),
    meta: { access: 'user', title: 'Profile' },
  },
  {
    path: '/admin/users',
    name: 'admin-users',
    component: () => import('@/pages/admin/AdminUsersPage.vue'),
    meta: { access: 'admin', title: 'Users' },
  },
  {
    path: '/admin/users/:id(\\d+)/edit',
    name: 'admin-user-edit',
    component: () => import('@/pages/admin/AdminUserEditPage.vue'),
    props: (route: RouteLocationNormalized) => ({ id: Number(route.params.id) }),
    meta: { access: 'admin', title: 'Edit user' },
  },
  {
    path: '/admin/registries',
    name: 'admin-registries',
    component: () => import('@/pages/admin/AdminRegistriesPage.vue'),
    meta: { access: 'admin', title: 'Registries' },
  },
  {
    path: '/admin/activities',
    name: 'admin-activities',
    component: () => import('@/pages/admin/AdminActivitiesPage.vue'),
    meta: { access: 'admin', title: 'Activities' },
  },
  {
    path: '/help',
    name: 'help',
    component: () => import('@/pages/HelpPage.vue'),
    meta: { access: 'public', title: 'Help' },
  },
  ...(
    [
      [401, 'unauthorized', 'Sign in required'],
      [403, 'forbidden', 'Not allowed'],
      [500, 'server-error', 'Something went wrong'],
    ] as const
  ).map(([status, name, title]): RouteRecordRaw => ({
    path: `/${status}`,
    name,
    component: ErrorPage,
    props: { status },
    meta: { access: 'public', title },
  })),
  {
    path: '/:path(.*)*',
    name: 'not-found',
    component: ErrorPage,
    props: { status: 404 },
    meta: { access: 'public', title: 'Not found' },
  },
]

export function createAppRouter() {
  const router = createRouter({
    history: createWebHistory(),
    routes,
    scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
  })

  router.beforeEach(async (to) => {
    const auth = useAuthStore()
    const settings = useSettingsStore()
    await Promise.all([auth.ensureLoaded(), settings.ensureLoaded()])
    const access = to.meta.access ?? 'user'
    if (to.name === 'home') {
      if (auth.signedIn) return { name: 'dashboard' }
      return settings.settings.usersExist === false ? { name: 'sign-up' } : { name: 'sign-in' }
    }
    if (access === 'guest' && auth.signedIn) return { name: 'dashboard' }
    if ((access === 'user' || access === 'admin') && !auth.signedIn) {
      return { name: 'sign-in', query: { redirect: to.fullPath } }
    }
    if (access === 'admin' && !auth.isAdmin) {
      // The address stays; the page says there is nothing here for this person.
      return {
        name: 'not-found',
        params: { path: to.path.slice(1).split('/') },
        query: to.query,
        hash: to.hash,
      }
    }
    if (to.name === 'explore' && !auth.signedIn && !settings.settings.anonymousBrowsing) {
      return { name: 'sign-in', query: { redirect: to.fullPath } }
    }
    return true
  })

  // A page's code could not be loaded (a new version was deployed, the connection dropped):
  // the error page, whose "Try again" leads back to the address that failed.
  router.onError((error, to) => {
    console.error('navigation failed:', error)
    void router.replace({ name: 'server-error', query: { from: to.fullPath } })
  })

  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · Portus` : 'Portus'
  })

  return router
}
