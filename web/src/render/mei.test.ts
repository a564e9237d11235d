import { readFileSync, existsSync } from 'node:fs'
import { describe, expect, it, beforeAll } from 'vitest'
import createVerovioModule from 'verovio/wasm'
import { VerovioToolkit } from 'verovio/esm'
import { snapshotFromJson } from '../score/model'
import { layoutSystems, systemMei } from './layout'
import { engrave, VEROVIO_OPTIONS } from './engrave'
import { durationPieces } from './mei'
import { frac } from '../score/fraction'

let tk: VerovioToolkit
beforeAll(async () => {
  tk = new VerovioToolkit(await createVerovioModule())
  tk.setOptions(VEROVIO_OPTIONS)
})

describe('durationPieces', () => {
  it('writes dotted and tied values', () => {
    expect(durationPieces(frac(3, 2)).map(p => [p.dur, p.dots])).toEqual([['4', 1]])
    expect(durationPieces(frac(5, 1)).map(p => [p.dur, p.dots])).toEqual([['1', 0], ['4', 0]])
    expect(durationPieces(frac(1, 3))[0]).toMatchObject({ dur: '8', num: 3, numbase: 2 })
  })
})

const file = '/tmp/op59no2-1.json'
describe.runIf(existsSync(file))('Beethoven', () => {
  it('renders every system with note ids', () => {
    const s = snapshotFromJson(JSON.parse(readFileSync(file, 'utf8')))
    const systems = layoutSystems(s, 40)
    console.log('systems', systems.length)
    const t0 = performance.now()
    let found = 0
    let expected = 0
    for (const sys of systems.slice(0, 10)) {
      const { mei } = systemMei(s, sys)
      const svg = engrave(tk, mei)
      for (const m of s.measures.slice(sys.start, sys.end)) {
        for (const id of s.byMeasure.get(m.id) ?? []) { expected++; if (svg.includes(`id="${id}"`)) found++ }
      }
    }
    expect(found).toBe(expected)
    expect(expected).toBeGreaterThan(100)
    void t0
  })
})
