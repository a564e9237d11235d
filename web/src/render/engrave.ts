// Verovio options shared by the browser and the tests, and one call that turns a
// system's MEI into SVG.
import type { VerovioToolkit } from 'verovio/esm'

export const SCALE = 36
/** Screen pixels per Verovio page unit: a five-line staff about 30 px high. */
export const ZOOM = 0.3
/** Verovio page width for a container `px` wide, so the SVG shows at its natural size. */
export const pageWidthFor = (px: number): number => Math.max(600, Math.round(px / ZOOM))

export const VEROVIO_OPTIONS = {
  breaks: 'encoded',
  minLastJustification: 0,
  adjustPageHeight: true,
  adjustPageWidth: false,
  pageWidth: pageWidthFor(1200),
  pageMarginLeft: 20,
  pageMarginRight: 20,
  pageMarginTop: 10,
  pageMarginBottom: 10,
  scale: SCALE,
  svgViewBox: true,
  svgRemoveXlink: true,
  svgFormatRaw: true,
  header: 'none',
  footer: 'none',
  justifyVertically: false,
  mnumInterval: 0,
  spacingSystem: 4,
  lyricSize: 4.5,
  stemWidth: 0.3,
  staffLineWidth: 0.2,
  xmlIdChecksum: false,
}

let currentWidth = 0

export function engrave(tk: VerovioToolkit, mei: string, px = 1200): string {
  const width = pageWidthFor(px)
  if (width !== currentWidth) {
    tk.setOptions({ pageWidth: width })
    currentWidth = width
  }
  tk.loadData(mei)
  return tk.renderToSVG(1, false)
}
