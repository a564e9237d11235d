// CI check: the build committed in collab_server/webapp_dist (what `pip install` ships,
// so `orpheus serve` needs no Node) is exactly what the sources build. The build is
// deterministic (content-hashed names, no timestamps, gzip without mtime), so rebuilding
// a clean checkout must leave that folder unchanged; any difference fails with the list.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const web = fileURLToPath(new URL('..', import.meta.url))
const dist = '../collab_server/webapp_dist'
execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: web, stdio: 'inherit' })
const changed = execFileSync(
  'git',
  ['status', '--porcelain', '--untracked-files=all', '--', dist],
  { cwd: web, encoding: 'utf8' },
)
if (changed.trim()) {
  console.error(
    `collab_server/webapp_dist does not match the sources in web/:\n${changed}` +
      'Rebuild with `npm --prefix web run build` and commit collab_server/webapp_dist.',
  )
  process.exit(1)
}
console.log('collab_server/webapp_dist matches the sources')
