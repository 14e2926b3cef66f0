import './styles/main.css'

import { createPinia } from 'pinia'
import { createApp } from 'vue'

import { configureAuth } from '@/api/client'
import App from '@/App.vue'
import { createAppRouter } from '@/router'
import { useAuthStore } from '@/stores/auth'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
const router = createAppRouter()
app.use(router)

const auth = useAuthStore(pinia)
configureAuth({
  csrfToken: () => auth.csrfToken,
  onUnauthorized: () => {
    // A signed-out visitor's 401 is the page's own error to show; a signed-in person's means
    // the session ended (expired, signed out elsewhere, password changed): sign in again.
    if (!auth.signedIn) return
    auth.clear()
    const current = router.currentRoute.value
    if (current.meta.layout !== 'bare') {
      void router.push({ name: 'sign-in', query: { redirect: current.fullPath, ended: '1' } })
    }
  },
})

app.mount('#app')
