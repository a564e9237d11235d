// Verovio's npm build inlines its WebAssembly in the JavaScript module (as a string
// decoded at start-up), which makes the first paint slow: the browser cannot compile
// while downloading, and the 7 MB module must be parsed first. This plugin serves the
// module without the inlined binary (`virtual:verovio-module`) and writes the binary to
// src/generated/verovio.wasm, imported with `?url` so it ships as its own hashed file.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Plugin } from 'vite'

const VIRTUAL = 'virtual:verovio-module'
const START = "function findWasmBinary(){return binaryDecode('"
const END = "')}function getBinarySync"

function split(root: string): { code: string; wasm: Uint8Array } {
  const require = createRequire(join(root, 'package.json'))
  const file = join(dirname(require.resolve('verovio')), 'verovio-module.mjs')
  const source = readFileSync(file, 'utf8')
  const start = source.indexOf(START)
  const end = source.indexOf(END, start)
  if (start < 0 || end < 0)
    throw new Error('verovio-module.mjs: inlined WebAssembly not found (new Verovio build?)')
  const literal = source.slice(start + START.length, end)
  // The literal is a JavaScript string of bytes: evaluate it as one, then decode.
  const text = new Function(`return '${literal}'`)() as string
  const wasm = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    wasm[i] = (~c >> 8) & c
  }
  let code =
    source.slice(0, start) +
    'function findWasmBinary(){return Module["wasmBytes"]' +
    source.slice(end + 2)
  // Accept a module compiled while it downloaded (WebAssembly.compileStreaming).
  const INSTANTIATE = 'var instance=await WebAssembly.instantiate(binary,imports);return instance}'
  if (!code.includes(INSTANTIATE))
    throw new Error('verovio-module.mjs: instantiate call not found (new Verovio build?)')
  code = code.replace(
    INSTANTIATE,
    'if(binary instanceof WebAssembly.Module){return{instance:await WebAssembly.instantiate(binary,imports),module:binary}}' +
      INSTANTIATE,
  )
  return { code, wasm }
}

export function verovioWasm(root: string): Plugin {
  let code: string | null = null
  const ensure = (): string => {
    if (code === null) {
      const parts = split(root)
      code = parts.code
      const out = join(root, 'src', 'generated', 'verovio.wasm')
      mkdirSync(dirname(out), { recursive: true })
      if (!existsSync(out) || !Buffer.from(readFileSync(out)).equals(Buffer.from(parts.wasm)))
        writeFileSync(out, parts.wasm)
    }
    return code
  }
  return {
    name: 'orpheus-verovio-wasm',
    enforce: 'pre',
    config() {
      ensure()
    },
    resolveId(id) {
      return id === VIRTUAL ? '\0' + VIRTUAL : null
    },
    load(id) {
      return id === '\0' + VIRTUAL ? ensure() : null
    },
  }
}
