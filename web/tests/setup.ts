// Every component a test mounts is unmounted when the test ends: a paced or streaming render still
// scheduled then would otherwise run after the test environment is torn down (jsdom's
// requestAnimationFrame gone) and fail the run with an unhandled error.
import { afterEach } from 'vitest'
import { enableAutoUnmount } from '@vue/test-utils'

enableAutoUnmount(afterEach)
