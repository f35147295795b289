// The Mann-Whitney U test and the Hodges-Lehmann shift with its confidence interval, for two samples x and y.
// The test follows SciPy's mannwhitneyu (two-sided, method 'auto', continuity correction); the interval and the
// estimate follow Kayenta's MannWhitney.scala, which ties out against R's wilcox.test(conf.int = TRUE, exact = FALSE).

import { normalQuantile, normalSurvival } from './normal';

export interface UTest {
  /** U of x: the number of pairs (xᵢ, yⱼ) with xᵢ > yⱼ, ties counting one half. */
  u: number;
  /** Two-sided p-value. */
  pValue: number;
  method: 'exact' | 'asymptotic';
}

/** Above this size of both samples, or with any tie, SciPy's 'auto' takes the normal approximation. */
const EXACT_MAX_SIZE = 8;

/** Ranks of the values (1-based), ties given their average rank, and the sizes of the tie groups. */
export function averageRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]] === values[order[start]]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]] = rank;
    tieSizes.push(end - start + 1);
    start = end + 1;
  }
  return { ranks, tieSizes };
}

function rankSumOfFirst(x: readonly number[], y: readonly number[]): { rankSum: number; tieSizes: number[] } {
  const { ranks, tieSizes } = averageRanks([...x, ...y]);
  let rankSum = 0;
  for (let i = 0; i < x.length; i++) rankSum += ranks[i];
  return { rankSum, tieSizes };
}

/** σ of U under the null hypothesis, corrected for ties: √(nm/12 · ((N+1) − Σ(t³−t)/(N(N−1)))). */
function sigmaOfU(n: number, m: number, tieSizes: readonly number[]): number {
  const total = n + m;
  const tieTerm = tieSizes.reduce((s, t) => s + t ** 3 - t, 0);
  return Math.sqrt(((n * m) / 12) * (total + 1 - tieTerm / (total * (total - 1))));
}

/**
 * P(U ≥ k) for samples of sizes n and m without ties: the number of arrangements with U = u is the coefficient of
 * qᵘ in the Gaussian binomial [n+m choose n]_q = Πᵢ₌₁ⁿ (1 − q^(m+i)) / (1 − qⁱ), counted exactly with BigInt.
 */
export function exactSurvival(k: number, n: number, m: number): number {
  const small = Math.min(n, m);
  const large = Math.max(n, m);
  const degree = small * large;
  const counts = new Array<bigint>(degree + 1).fill(0n);
  counts[0] = 1n;
  for (let i = 1; i <= small; i++) {
    const factor = large + i;
    for (let d = degree; d >= factor; d--) counts[d] -= counts[d - factor];
    for (let d = i; d <= degree; d++) counts[d] += counts[d - i];
  }
  let tail = 0n;
  let total = 0n;
  for (let u = 0; u <= degree; u++) {
    total += counts[u];
    if (u >= k) tail += counts[u];
  }
  // Scale both to keep the division exact enough when the counts pass 2^53.
  const shift = BigInt(Math.max(0, total.toString(2).length - 60));
  return Number(tail >> shift) / Number(total >> shift);
}

/** The two-sided Mann-Whitney U test of x against y, as SciPy's mannwhitneyu(x, y) with method 'auto'. */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): UTest {
  const n = x.length;
  const m = y.length;
  if (n === 0 || m === 0) throw new RangeError('the Mann-Whitney test needs at least one value in each sample');
  const { rankSum, tieSizes } = rankSumOfFirst(x, y);
  const u = rankSum - (n * (n + 1)) / 2;
  const larger = Math.max(u, n * m - u);
  const ties = tieSizes.some((t) => t > 1);
  if ((n <= EXACT_MAX_SIZE || m <= EXACT_MAX_SIZE) && !ties) {
    return { u, pValue: Math.min(1, 2 * exactSurvival(larger, n, m)), method: 'exact' };
  }
  const z = (larger - (n * m) / 2 - 0.5) / sigmaOfU(n, m, tieSizes);
  return { u, pValue: Math.min(1, 2 * normalSurvival(z)), method: 'asymptotic' };
}

export interface ShiftEstimate {
  /** Hodges-Lehmann estimate of the shift x − y. */
  estimate: number;
  /** Confidence interval of the shift at the given confidence level. */
  lower: number;
  upper: number;
}

/**
 * f(μ, z) = (dz − c)/σ − z of Kayenta's MannWhitney.scala, where dz is U of (x − μ) against y minus nm/2, c the
 * continuity correction 0.5·sign(dz) and σ the tie-corrected σ of U for that shift. It does not increase as μ grows.
 */
export function standardisedShift(x: readonly number[], y: readonly number[], mu: number, z: number): number {
  const n = x.length;
  const m = y.length;
  const { rankSum, tieSizes } = rankSumOfFirst(x.map((v) => v - mu), y);
  const dz = rankSum - (n * (n + 1)) / 2 - (n * m) / 2;
  const sigma = sigmaOfU(n, m, tieSizes);
  if (sigma === 0) throw new RangeError('cannot compute confidence interval when all observations are tied');
  return (dz - 0.5 * Math.sign(dz)) / sigma - z;
}

const BRENT_TOLERANCE = 1e-4;
const BRENT_ITERATIONS = 1000;
const EPSILON = 2.220446049250313e-16;

/** Commons Math's Precision.equals(v, 0): within one ulp of zero. */
function isZero(v: number): boolean {
  return Math.abs(v) <= Number.MIN_VALUE;
}

/**
 * Brent's root search on [ax, bx] exactly as Kayenta's BrentSolver.java (R's zeroin, tolerance 1e-4). f here is a
 * step function, so where the search stops within the tolerance decides the digits: porting the search, not just
 * finding "a" root, is what reproduces Kayenta's and R's intervals to 1e-6.
 */
function brentRoot(ax: number, bx: number, faStart: number, fbStart: number, f: (mu: number) => number): number {
  let a = ax;
  let b = bx;
  let fa = faStart;
  let fb = fbStart;
  let c = a;
  let fc = fa;
  if (isZero(fa)) return a;
  if (isZero(fb)) return b;
  for (let iteration = BRENT_ITERATIONS + 1; iteration-- > 0;) {
    const prevStep = b - a;
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b; b = c; c = a;
      fa = fb; fb = fc; fc = fa;
    }
    const tolAct = 2 * EPSILON * Math.abs(b) + BRENT_TOLERANCE / 2;
    let newStep = (c - b) / 2;
    if (Math.abs(newStep) <= tolAct || isZero(fb)) return b;
    if (Math.abs(prevStep) >= tolAct && Math.abs(fa) > Math.abs(fb)) {
      let p: number;
      let q: number;
      const cb = c - b;
      if (a === c) {
        const t1 = fb / fa;
        p = cb * t1;
        q = 1 - t1;
      } else {
        // Inverse quadratic interpolation.
        q = fa / fc;
        const t1 = fb / fc;
        const t2 = fb / fa;
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1));
        q = (q - 1) * (t1 - 1) * (t2 - 1);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (p < 0.75 * cb * q - Math.abs(tolAct * q) / 2 && p < Math.abs((prevStep * q) / 2)) newStep = p / q;
    }
    if (Math.abs(newStep) < tolAct) newStep = newStep > 0 ? tolAct : -tolAct;
    a = b;
    fa = fb;
    b += newStep;
    fb = f(b);
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
    }
  }
  return b;
}

/**
 * The Hodges-Lehmann shift of x against y and its confidence interval, as Kayenta computes them: the bounds are the
 * roots of f(μ, ∓q) with q = Φ⁻¹((1 − confidence)/2), clamped to [min x − max y, max x − min y]; the estimate is the
 * root of f(μ, 0), not clamped. This is the asymptotic estimate (R's exact = FALSE), not literally the median of the
 * pairwise differences.
 */
export function shiftEstimate(x: readonly number[], y: readonly number[], confidence: number): ShiftEstimate {
  if (x.length === 0 || y.length === 0) throw new RangeError('the shift estimate needs at least one value in each sample');
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must lie between 0 and 1, not ${confidence}`);
  const low = (v: readonly number[]) => v.reduce((a, b) => Math.min(a, b), Infinity);
  const high = (v: readonly number[]) => v.reduce((a, b) => Math.max(a, b), -Infinity);
  const muMin = low(x) - high(y);
  const muMax = high(x) - low(y);
  const q = normalQuantile((1 - confidence) / 2);
  const root = (z: number, clamp: boolean): number => {
    const f = (mu: number) => standardisedShift(x, y, mu, z);
    const fLower = f(muMin);
    const fUpper = f(muMax);
    if (clamp && fLower <= 0) return muMin;
    if (clamp && fUpper >= 0) return muMax;
    return brentRoot(muMin, muMax, fLower, fUpper, f);
  };
  return { lower: root(-q, true), upper: root(q, true), estimate: root(0, false) };
}
