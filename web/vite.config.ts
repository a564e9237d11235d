import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import tailwindcss from '@tailwindcss/vite'
import { fileURLToPath } from 'node:url'
import { verovioWasm } from './plugins/verovio.ts'
import { gzipAssets } from './plugins/gzip.ts'

const root = fileURLToPath(new URL('.', import.meta.url))

// The build goes straight into the Python package (collab_server/webapp_dist), which
// `orpheus serve` serves at `/`; CI rebuilds it and fails if it differs from the commit.
export default defineConfig({
  root,
  base: '/',
  plugins: [verovioWasm(root), react(), tailwindcss(), gzipAssets()],
  build: {
    outDir: fileURLToPath(new URL('../collab_server/webapp_dist', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8000',
      '/ws': { target: 'ws://127.0.0.1:8000', ws: true },
    },
  },
})
