#!/usr/bin/env python3
"""Writes kayenta-vectors.json: the reference vectors of Kayenta's MannWhitneySuite.scala (Apache-2.0,
spinnaker/kayenta @a69573be9d8fededacf80817e4151a2c8df41276, v2.46.0), whose expected values Kayenta ties out
against R's wilcox.test(conf.int = TRUE, exact = FALSE).

    python3 kayenta-vectors.py path/to/kayenta/kayenta-mannwhitney/src/test/scala/com/netflix/kayenta/mannwhitney/MannWhitneySuite.scala
"""
import json
import re
import sys

source = open(sys.argv[1]).read()


def block(title):
    start = source.index(f'test("{title}")')
    end = source.find('test("', start + 10)
    return source[start:end if end > 0 else len(source)]


def array(text, name):
    m = re.search(rf'val {name} = Array\(([^)]*)\)', text)
    return [float(v) for v in re.split(r'[\s,]+', m.group(1).strip()) if v]


def number(text, name):
    return float(re.search(rf'val {name} = (-?[0-9.E-]+)', text).group(1))


cases = []
t = block('Wilcoxon Diff Function')
cases.append({'name': 'wilcoxonDiff', 'x': array(t, 'x'), 'y': array(t, 'y'),
              'statistic': [{'mu': 0, 'z': 0, 'value': -1.229416}, {'mu': 5, 'z': 0, 'value': -35.80606}], 'tolerance': 1e-6})
cases.append({'name': 'small', 'x': [10.0, 20.0, 30.0, 40.0], 'y': [1.0, 2.0, 3.0, 4.0], 'confidence': 0.95,
              'lower': 6.0, 'upper': 39.0, 'estimate': 22.5, 'tolerance': 1e-6})
t = block('Mann-Whitney Confidence Interval & Estimate: Problem Case')
cases.append({'name': 'problem case', 'x': array(t, 'experiment'), 'y': array(t, 'control'), 'confidence': 0.98,
              'lower': -1.4808028936386108e-5, 'upper': 1.808255910873413e-5, 'estimate': 1.808255910873413e-5, 'tolerance': 1e-6})
for title, confidence in [('Mann-Whitney Confidence Interval & Estimate: Tie out with R Version', 0.95),
                          ('Mann-Whitney Confidence Interval & Estimate: Tie out with R Version (Large)', 0.98)]:
    t = block(title)
    cases.append({'name': title.split(': ')[1], 'x': array(t, 'experiment'), 'y': array(t, 'control'), 'confidence': confidence,
                  'lower': number(t, 'rCiLow'), 'upper': number(t, 'rCiHigh'), 'estimate': number(t, 'rEst'),
                  'tolerance': 1e-6, 'estimateTolerance': 1e-4})
json.dump({'source': 'spinnaker/kayenta @a69573be9d8fededacf80817e4151a2c8df41276 MannWhitneySuite.scala', 'cases': cases},
          open('kayenta-vectors.json', 'w'), indent=1)
