// Load Verovio once: its JavaScript (lazily, its own chunk) and its WebAssembly (its
// own file, fetched in parallel, so the browser downloads both at once).
import type { VerovioToolkit } from 'verovio/esm'
import wasmUrl from '../generated/verovio.wasm?url'
import { VEROVIO_OPTIONS } from './engrave'

let loading: Promise<VerovioToolkit> | null = null
export let toolkit: VerovioToolkit | null = null

export function loadToolkit (): Promise<VerovioToolkit> {
  loading ??= (async () => {
    const bytes = fetch(wasmUrl).then(async r => {
      if (!r.ok) throw new Error(`cannot load the renderer (${r.status})`)
      return await r.arrayBuffer()
    })
    const [{ default: createModule }, { VerovioToolkit: Toolkit }] = await Promise.all([
      import('virtual:verovio-module'), import('verovio/esm')
    ])
    const module = await createModule({ wasmBytes: await bytes })
    const tk = new Toolkit(module)
    tk.setOptions(VEROVIO_OPTIONS)
    toolkit = tk
    return tk
  })()
  return loading
}
