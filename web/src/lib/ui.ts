/**
 * The few Element Plus pieces the app uses, imported one by one with their styles: the package
 * entry point would pull the whole library (~900 kB) into the bundle.
 */
import 'element-plus/es/components/config-provider/style/css'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import 'element-plus/es/components/drawer/style/css'

export { ElConfigProvider } from 'element-plus/es/components/config-provider/index'
export { ElMessage } from 'element-plus/es/components/message/index'
export { ElMessageBox } from 'element-plus/es/components/message-box/index'
export { ElDrawer } from 'element-plus/es/components/drawer/index'
