import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { averageRanks, exactSurvival, mannWhitneyU, shiftEstimate, standardisedShift } from '../../../tasks/acceptance-gate/statistics/mannWhitney';
import { normalCdf, normalQuantile, normalSurvival } from '../../../tasks/acceptance-gate/statistics/normal';

const DATA = path.join(__dirname, '../../data/mann-whitney');
const load = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(DATA, name), 'utf8')) as T;

interface ScipyCase { name: string; x: number[]; y: number[]; u: number; pValue: number; method: 'exact' | 'asymptotic' }
interface KayentaCase {
  name: string; x: number[]; y: number[]; confidence?: number; lower?: number; upper?: number; estimate?: number;
  tolerance: number; estimateTolerance?: number; statistic?: { mu: number; z: number; value: number }[];
}

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);

describe('acceptance-gate statistics: the normal distribution', () => {
  it('gives the quantiles Kayenta and R use (Φ⁻¹(0.01) = −2.326348, Φ⁻¹(0.025) = −1.959964)', () => {
    close(normalQuantile(0.01), -2.3263478740408408, 1e-12, 'Φ⁻¹(0.01)');
    close(normalQuantile(0.025), -1.959963984540054, 1e-12, 'Φ⁻¹(0.025)');
    close(normalQuantile(0.5), 0, 1e-15, 'Φ⁻¹(0.5)');
  });

  it('keeps relative precision in the far tail (Φ(−8) = 6.22096e-16)', () => {
    close(normalCdf(-8) / 6.220960574271785e-16, 1, 1e-12, 'Φ(−8)');
    close(normalSurvival(1.959963984540054), 0.025, 1e-15, 'P(Z > 1.96)');
    close(normalCdf(1) + normalSurvival(1), 1, 1e-15, 'Φ(1) + P(Z > 1)');
  });
});

describe('acceptance-gate statistics: Mann-Whitney U', () => {
  it('ranks ties at their average rank', () => {
    assert.deepEqual(averageRanks([3, 1, 3, 2, 3]), { ranks: [4, 1, 4, 2, 4], tieSizes: [1, 1, 3] });
  });

  it('reproduces the textbook example of SciPy\'s documentation: U = 17, exact p = 1/9', () => {
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    assert.deepEqual([r.u, r.method], [17, 'exact']);
    close(r.pValue, 1 / 9, 1e-15, 'p');
  });

  it('counts the exact distribution: fully separated 5 against 5 has P(U ≥ 25) = 1/252', () => {
    close(exactSurvival(25, 5, 5), 1 / 252, 1e-18, 'P(U ≥ 25)');
    close(exactSurvival(0, 5, 5), 1, 0, 'P(U ≥ 0)');
  });

  for (const c of load<{ cases: ScipyCase[] }>('scipy-fixtures.json').cases) {
    it(`agrees with scipy.stats.mannwhitneyu: ${c.name}`, () => {
      const r = mannWhitneyU(c.x, c.y);
      assert.equal(r.method, c.method);
      assert.equal(r.u, c.u);
      close(r.pValue, c.pValue, Math.max(1e-15, c.pValue * 1e-9), 'p');
    });
  }

  it('refuses an empty sample', () => {
    assert.throws(() => mannWhitneyU([], [1]), /at least one value/);
  });
});

describe('acceptance-gate statistics: Hodges-Lehmann shift and interval, as Kayenta computes them', () => {
  for (const c of load<{ cases: KayentaCase[] }>('kayenta-vectors.json').cases) {
    it(`reproduces Kayenta's MannWhitneySuite: ${c.name}`, () => {
      if (c.statistic) {
        for (const s of c.statistic) close(standardisedShift(c.x, c.y, s.mu, s.z), s.value, c.tolerance, `f(${s.mu}, ${s.z})`);
        return;
      }
      const r = shiftEstimate(c.x, c.y, c.confidence!);
      close(r.lower, c.lower!, c.tolerance, 'lower bound');
      close(r.upper, c.upper!, c.tolerance, 'upper bound');
      close(r.estimate, c.estimate!, c.estimateTolerance ?? c.tolerance, 'estimate');
    });
  }

  it('says why it cannot give an interval when every value is the same', () => {
    assert.throws(() => shiftEstimate([1, 1], [1, 1, 1], 0.98), /all observations are tied/);
  });
});
