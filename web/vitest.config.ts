import { defineConfig } from 'vitest/config'

// Unit tests of the console's plain TypeScript (src/**/*.test.ts) in Node;
// the pages themselves are tested in a browser by e2e/console.mjs.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
})
