/** Routes of the seed design (section 3); each page is its own lazily loaded chunk. */
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useAuth } from '@/stores/auth'
import { isAdmin } from '@/lib/admin'

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'chat', component: () => import('@/views/ChatView.vue'), meta: { auth: true } },
  { path: '/login', name: 'login', component: () => import('@/views/LoginView.vue'), meta: { guest: true } },
  { path: '/register', name: 'register', component: () => import('@/views/RegisterView.vue'), meta: { guest: true } },
  { path: '/forgot', name: 'forgot', component: () => import('@/views/ForgotView.vue'), meta: { guest: true } },
  // Where e-mailed links land (confirmation, recovery, expired links): open to everyone.
  { path: '/auth/callback', name: 'auth-callback', component: () => import('@/views/AuthCallbackView.vue') },
  { path: '/profile', name: 'profile', component: () => import('@/views/ProfileView.vue'), meta: { auth: true } },
  { path: '/history', name: 'history', component: () => import('@/views/HistoryView.vue'), meta: { auth: true } },
  { path: '/roles', name: 'roles', component: () => import('@/views/RolesView.vue'), meta: { auth: true } },
  // A share link: public, signed in or not.
  { path: '/s/:token', name: 'shared', component: () => import('@/views/SharedView.vue') },
  { path: '/usage', name: 'usage', component: () => import('@/views/UsageView.vue'), meta: { auth: true } },
  { path: '/keys', name: 'keys', component: () => import('@/views/KeysView.vue'), meta: { auth: true } },
  { path: '/admin', name: 'admin', component: () => import('@/views/AdminView.vue'), meta: { auth: true, admin: true } },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export function makeRouter() {
  const router = createRouter({ history: createWebHistory(), routes })
  router.beforeEach(async (to) => {
    const auth = useAuth()
    await auth.init()
    if (to.meta.auth && auth.session && auth.needsCode) return { name: 'login', query: { code: '1' } }
    if (to.meta.auth && !auth.session) return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
    if (to.meta.guest && auth.session && !auth.isGuest && !auth.needsCode) return { name: 'chat' }
    if (to.meta.admin && !isAdmin(auth.session)) return { name: 'chat' }
    return true
  })
  return router
}
