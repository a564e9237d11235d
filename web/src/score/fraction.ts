// Exact fractions of a quarter note, as the schema writes them ("1/2", "3").
export const MAX_DENOMINATOR = 4096

export interface Frac {
  n: number
  d: number
}

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b))

export function frac(n: number, d = 1): Frac {
  if (d === 0) throw new Error('zero denominator')
  if (d < 0) {
    n = -n
    d = -d
  }
  const g = gcd(n, d) || 1
  return { n: n / g, d: d / g }
}

/** Read "1/2", "3", "0.25" or a number (the server's courtesy forms included). */
export function parseFraction(value: unknown): Frac {
  if (typeof value === 'number' && Number.isInteger(value)) return frac(value, 1)
  if (typeof value === 'string') {
    const text = value.trim()
    if (/^[-+]?\d+(\s*\/\s*\d+)?$/.test(text)) {
      const [a, b] = text.split('/').map((s) => Number(s.trim()))
      const f = frac(a ?? 0, b ?? 1)
      if (f.d > MAX_DENOMINATOR) throw new Error(`denominator above ${MAX_DENOMINATOR}`)
      return f
    }
    if (/^[-+]?\d*\.\d+$/.test(text)) {
      const decimals = text.length - text.indexOf('.') - 1
      return checked(frac(Number(text.replace('.', '')), 10 ** decimals))
    }
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    let best = frac(Math.round(value), 1)
    for (let den = 2; den <= MAX_DENOMINATOR; den++) {
      const num = Math.round(value * den)
      if (Math.abs(num / den - value) < Math.abs(best.n / best.d - value)) best = frac(num, den)
    }
    return best
  }
  throw new Error(`not a fraction: ${JSON.stringify(value)}`)
}

function checked(f: Frac): Frac {
  if (f.d > MAX_DENOMINATOR) throw new Error(`denominator above ${MAX_DENOMINATOR}`)
  return f
}

export const formatFraction = (f: Frac): string => (f.d === 1 ? String(f.n) : `${f.n}/${f.d}`)
export const add = (a: Frac, b: Frac): Frac => frac(a.n * b.d + b.n * a.d, a.d * b.d)
export const sub = (a: Frac, b: Frac): Frac => frac(a.n * b.d - b.n * a.d, a.d * b.d)
export const mul = (a: Frac, b: Frac): Frac => frac(a.n * b.n, a.d * b.d)
export const cmp = (a: Frac, b: Frac): number => a.n * b.d - b.n * a.d
export const eq = (a: Frac, b: Frac): boolean => cmp(a, b) === 0
export const toNumber = (f: Frac): number => f.n / f.d
export const ZERO: Frac = { n: 0, d: 1 }
export const min = (a: Frac, b: Frac): Frac => (cmp(a, b) <= 0 ? a : b)
export const max = (a: Frac, b: Frac): Frac => (cmp(a, b) >= 0 ? a : b)

/** Length of a bar of time signature "N/D" in quarter notes. */
export function barLength(time: string): Frac {
  const [n, d] = time.split('/').map(Number)
  return frac((n ?? 4) * 4, d ?? 4)
}
