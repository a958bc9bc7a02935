import { createRouter, createWebHistory } from 'vue-router'
import { can, session } from './api'

// Each page names the permission it needs; the server enforces it anyway.
export const pages = [
  { path: '/', name: 'dashboard', permission: 'vpps:read', component: () => import('./pages/Dashboard.vue') },
  { path: '/operate', name: 'operate', permission: 'vpps:read', component: () => import('./pages/Operate.vue') },
  { path: '/resources', name: 'resources', permission: 'registry:read', component: () => import('./pages/Resources.vue') },
  { path: '/series', name: 'series', permission: 'registry:read', component: () => import('./pages/Series.vue') },
  { path: '/vpps', name: 'vpps', permission: 'vpps:read', component: () => import('./pages/Vpps.vue') },
  { path: '/schedule', name: 'schedule', permission: 'vpps:read', component: () => import('./pages/Schedule.vue') },
  { path: '/trading', name: 'trading', permission: 'vpps:read', component: () => import('./pages/Trading.vue') },
  { path: '/strategies', name: 'strategies', permission: 'vpps:read', component: () => import('./pages/Strategies.vue') },
  { path: '/parks', name: 'parks', permission: 'vpps:read', component: () => import('./pages/Parks.vue') },
  { path: '/performance', name: 'performance', permission: 'vpps:read', component: () => import('./pages/Performance.vue') },
  { path: '/my', name: 'my', permission: 'owner:read', component: () => import('./pages/MyAssets.vue') },
  { path: '/audit', name: 'audit', permission: 'audit:read', component: () => import('./pages/Audit.vue') },
]

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('./pages/Login.vue') },
    ...pages.map((p) => ({ path: p.path, name: p.name, component: p.component, meta: { permission: p.permission } })),
    { path: '/resources/:id', name: 'resource', component: () => import('./pages/ResourceDetail.vue'), meta: { permission: 'registry:read' } },
    { path: '/:rest(.*)', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  if (to.name === 'login') return true
  if (!session.me) return { name: 'login', query: { next: to.fullPath } }
  const needed = to.meta.permission as string | undefined
  if (needed && !can(needed)) {
    const first = pages.find((p) => can(p.permission))
    return first && first.name !== to.name ? { name: first.name } : true
  }
  return true
})
