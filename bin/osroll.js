#!/usr/bin/env node
// The `osroll` command: runs the compiled CLI (built by `npm install` through `prepare`).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error(
      'osroll is not built: run `npm install` (or `npm run build`) in the osroll folder.',
    )
    process.exit(1)
  }
  throw err
})
