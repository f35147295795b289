#!/usr/bin/env python3
"""Writes scipy-fixtures.json: two-sided Mann-Whitney U tests computed by SciPy's mannwhitneyu (method 'auto',
use_continuity=True), on fixed samples and on seeded random ones: small samples without ties (exact p-values),
small and large ones with ties (normal approximation with tie correction), and error-ratio-like data with many
zeros. Run with Debian's SciPy (python3-scipy, 1.10.1 on Debian 12):

    /usr/bin/python3 scipy-fixtures.py
"""
import json

import numpy as np
import scipy
from scipy.stats import mannwhitneyu
from scipy.stats._mannwhitneyu import _mwu_choose_method

rng = np.random.default_rng(20261202)
samples = [
    ('SciPy documentation: males against females (Conover)', [19, 22, 16, 29, 24], [20, 11, 17, 12]),
    ('fully separated, 5 against 5', [6, 7, 8, 9, 10], [1, 2, 3, 4, 5]),
    ('interleaved, 4 against 6', [1.5, 3.5, 5.5, 7.5], [1, 2, 3, 4, 5, 6]),
    ('3 against 20, no ties', [0.7, 2.2, 9.1], list(np.round(rng.normal(1, 1, 20), 6))),
    ('8 against 30, no ties', list(np.round(rng.normal(0.5, 1, 8), 6)), list(np.round(rng.normal(0, 1, 30), 6))),
    ('9 against 9, no ties (asymptotic)', list(np.round(rng.normal(1, 1, 9), 6)), list(np.round(rng.normal(0, 1, 9), 6))),
    ('small with ties', [1, 2, 2, 3, 5], [2, 3, 3, 4, 6, 6]),
    ('latency, 40 against 40, +10 %', list(np.round(rng.normal(110, 10, 40), 3)), list(np.round(rng.normal(100, 10, 40), 3))),
    ('latency, 60 against 50, no change', list(np.round(rng.normal(100, 10, 60), 3)), list(np.round(rng.normal(100, 10, 50), 3))),
    ('error ratio with many zeros, 30 against 30', list(np.round(np.where(rng.random(30) < 0.6, 0, rng.random(30) * 0.02), 4)),
     list(np.round(np.where(rng.random(30) < 0.6, 0, rng.random(30) * 0.02), 4))),
    ('error ratio, canary much worse, 25 against 25', list(np.round(rng.normal(0.1, 0.01, 25), 4)), list(np.round(rng.normal(0.01, 0.005, 25), 4))),
    ('integers with heavy ties, 50 against 45', [int(v) for v in rng.integers(0, 5, 50)], [int(v) for v in rng.integers(0, 4, 45)]),
]
cases = []
for name, x, y in samples:
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    res = mannwhitneyu(x, y, alternative='two-sided', method='auto')
    xy = np.concatenate([x, y])
    cases.append({'name': name, 'x': x, 'y': y, 'u': float(res.statistic), 'pValue': float(res.pvalue),
                  'method': _mwu_choose_method(len(x), len(y), xy[np.newaxis, :], 'auto')})
json.dump({'source': f'scipy.stats.mannwhitneyu {scipy.__version__}, two-sided, method auto', 'cases': cases},
          open('scipy-fixtures.json', 'w'), indent=1)
