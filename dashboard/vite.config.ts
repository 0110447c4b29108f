// The dashboard's build (issue 7): Preact, bundled by Vite into dist/dashboard, which
// `osroll serve` serves (index.html at /, assets under /ui/). No CDN: everything is in the bundle.
import { defineConfig } from 'vite'
import preact from '@preact/preset-vite'
import { fileURLToPath } from 'node:url'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 200,
  },
})
