import { createApp } from 'vue'
import { createPinia } from 'pinia'
import 'katex/dist/katex.min.css'
import './styles.css'
import App from './App.vue'
import { makeRouter } from './router'
import { makeI18n, setLocale, storedLocale } from './i18n'
import { captureLanding } from './lib/landing'
import { followVisualViewport } from './lib/visualViewport'
import { holdTyping } from './lib/typingHold'

// Before supabase-js reads (and clears) the fragment an e-mailed link brought back.
captureLanding()

const i18n = makeI18n()
setLocale(i18n, storedLocale())

// iOS's keyboard shrinks only the visual viewport: the app follows it (lib/visualViewport.ts).
followVisualViewport()
// What steps aside while typing comes back only once a tap that ends the typing is over (lib/typingHold.ts).
holdTyping()

createApp(App).use(createPinia()).use(makeRouter()).use(i18n).mount('#app')
