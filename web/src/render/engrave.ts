// Verovio options shared by the browser and the tests, and one call that turns a
// system's MEI into SVG.
import type { VerovioToolkit } from 'verovio/esm'

export const SYSTEM_PAGE_WIDTH = 2200 // Verovio units; the SVG scales to the page width

export const VEROVIO_OPTIONS = {
  breaks: 'none',
  adjustPageHeight: true,
  adjustPageWidth: false,
  pageWidth: SYSTEM_PAGE_WIDTH,
  pageMarginLeft: 20,
  pageMarginRight: 20,
  pageMarginTop: 10,
  pageMarginBottom: 10,
  scale: 40,
  svgViewBox: true,
  svgRemoveXlink: true,
  header: 'none',
  footer: 'none',
  justifyVertically: false,
  mnumInterval: 0,
  spacingSystem: 4,
  lyricSize: 4.5,
  xmlIdChecksum: false
}

export function engrave (tk: VerovioToolkit, mei: string): string {
  tk.loadData(mei)
  return tk.renderToSVG(1, false)
}
