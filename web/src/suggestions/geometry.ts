// Where a cell (a measure of a staff) is drawn, read from the engraved SVG: the staff
// element `g[id="<measure>.s<n>"]` and its five line paths.
export interface StaffBox {
  left: number
  right: number
  /** y of the top and bottom staff lines */
  top: number
  bottom: number
}

/** The box of a rendered staff, relative to `origin`; null when it is not on screen. */
export function staffBox(root: Element, svgStaffId: string, origin: DOMRect): StaffBox | null {
  const el = root.querySelector(`g[id="${CSS.escape(svgStaffId)}"]`)
  if (!el) return null
  const rect = el.getBoundingClientRect()
  if (rect.width === 0) return null
  const lines = [...el.querySelectorAll(':scope > path')].map((p) => p.getBoundingClientRect())
  const top = lines.length ? Math.min(...lines.map((l) => l.top)) : rect.top
  const bottom = lines.length ? Math.max(...lines.map((l) => l.bottom)) : rect.bottom
  return {
    left: rect.left - origin.left,
    right: rect.right - origin.left,
    top: top - origin.top,
    bottom: bottom - origin.top,
  }
}

/** x of an onset in a cell: a rendered note of the measure at that onset if any, else
 * proportional to the bar's length across the staff (after its first eighth). */
export function onsetX(box: StaffBox, onset: number, barLength: number, known?: number): number {
  if (known !== undefined) return known
  const start = box.left + (box.right - box.left) * 0.12
  const span = (box.right - box.left) * 0.82
  return start + (span * onset) / Math.max(barLength, 1e-9)
}

/** Re-run `fn` on a timer and on scroll while `active` (the score virtualises its systems). */
export function watchLayout(container: HTMLElement, fn: () => void): () => void {
  const timer = window.setInterval(fn, 300)
  container.addEventListener('scroll', fn, true)
  window.addEventListener('resize', fn)
  fn()
  return () => {
    window.clearInterval(timer)
    container.removeEventListener('scroll', fn, true)
    window.removeEventListener('resize', fn)
  }
}
