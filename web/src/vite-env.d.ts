/// <reference types="vite/client" />
declare module 'virtual:verovio-module' {
  const createVerovioModule: (options?: Record<string, unknown>) => Promise<unknown>
  export default createVerovioModule
}
declare module 'verovio/esm' {
  export class VerovioToolkit {
    constructor(module: unknown)
    setOptions(options: Record<string, unknown>): void
    loadData(data: string): boolean
    renderToSVG(page?: number, xmlDeclaration?: boolean): string
    getPageCount(): number
    getLog(): string
    getVersion(): string
    getElementsAtTime(ms: number): unknown
    redoLayout(options?: Record<string, unknown>): void
  }
}
declare module 'verovio/wasm' {
  const createVerovioModule: (options?: Record<string, unknown>) => Promise<unknown>
  export default createVerovioModule
}
