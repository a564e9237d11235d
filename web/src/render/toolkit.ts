// Load Verovio once: its small JavaScript glue is in the main bundle; its WebAssembly
// (6.8 MB, 2.3 MB gzipped) is its own file, fetched when a score opens.
import { VerovioToolkit } from 'verovio/esm'
import createModule from 'virtual:verovio-module'
import wasmUrl from '../generated/verovio.wasm?url'
import { VEROVIO_OPTIONS } from './engrave'

let loading: Promise<VerovioToolkit> | null = null
export let toolkit: VerovioToolkit | null = null

async function fallback(): Promise<ArrayBuffer> {
  const r = await fetch(wasmUrl)
  if (!r.ok) throw new Error(`cannot load the renderer (${r.status})`)
  return await r.arrayBuffer()
}

export function loadToolkit(): Promise<VerovioToolkit> {
  loading ??= (async () => {
    // Compiled while it downloads where the browser can (application/wasm).
    const compiled =
      typeof WebAssembly.compileStreaming === 'function'
        ? WebAssembly.compileStreaming(fetch(wasmUrl)).catch(async () => await fallback())
        : fallback()
    const module = await createModule({ wasmBytes: await compiled })
    const tk = new VerovioToolkit(module)
    tk.setOptions(VEROVIO_OPTIONS)
    toolkit = tk
    ;(window as { __orpheusToolkit?: unknown }).__orpheusToolkit = tk // for bench/web/render.mjs
    return tk
  })()
  return loading
}

/** Use an already loaded toolkit (tests, which load Verovio from Node). */
export function setToolkit(tk: VerovioToolkit): void {
  toolkit = tk
}
