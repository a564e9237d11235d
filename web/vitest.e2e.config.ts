import { defineConfig } from 'vitest/config'

// End-to-end: a real `orpheus serve` and Chromium (see e2e/harness.ts). One file, one
// server, one browser: the scenarios share them and run in order.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 60000,
    hookTimeout: 90000,
    sequence: { concurrent: false },
  },
})
