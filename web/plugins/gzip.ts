// Write a gzip copy next to every large text asset of the build (`x.js.gz`), which the
// server sends to browsers that accept gzip. Level 9, no timestamps: the same input
// always gives the same bytes, so the committed build can be compared byte for byte.
import { gzipSync } from 'node:zlib'
import type { Plugin } from 'vite'

export function gzipAssets(): Plugin {
  return {
    name: 'orpheus-gzip',
    apply: 'build',
    generateBundle(_options, bundle) {
      for (const [name, item] of Object.entries(bundle)) {
        if (!/\.(js|css|wasm|svg|json)$/.test(name)) continue
        const source = item.type === 'chunk' ? item.code : item.source
        const bytes = typeof source === 'string' ? Buffer.from(source) : Buffer.from(source)
        if (bytes.length < 4096) continue
        this.emitFile({
          type: 'asset',
          fileName: name + '.gz',
          source: gzipSync(bytes, { level: 9 }),
        })
      }
    },
  }
}
