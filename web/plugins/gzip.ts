// Write a gzip copy next to every large text asset of the build (`x.js.gz`), which the
// server sends to browsers that accept gzip. Level 9, no timestamps: the same input
// always gives the same bytes, so the committed build can be compared byte for byte.
// Done in writeBundle, on the chunks' final code: in generateBundle Vite has not yet
// filled in its dynamic-import preload markers (`__VITE_PRELOAD__`), and a gzip copy made
// there breaks every lazily imported chunk.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Plugin } from 'vite'

export function gzipAssets(): Plugin {
  return {
    name: 'orpheus-gzip',
    apply: 'build',
    writeBundle(options, bundle) {
      const dir = options.dir ?? 'dist'
      for (const [name, item] of Object.entries(bundle)) {
        if (!/\.(js|css|wasm|svg|json)$/.test(name)) continue
        const source = item.type === 'chunk' ? item.code : item.source
        const bytes = typeof source === 'string' ? Buffer.from(source) : Buffer.from(source)
        if (bytes.length < 4096) continue
        writeFileSync(join(dir, name + '.gz'), gzipSync(bytes, { level: 9 }))
      }
    },
  }
}
