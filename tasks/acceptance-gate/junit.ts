
/** One test case as a JUnit file reports it. */
export interface TestCase {
  suite: string;
  name: string;
  classname?: string;
  timeSeconds?: number;
  outcome: 'passed' | 'failed' | 'error' | 'skipped';
  message?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code = e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) out[m[1]] = decode(m[3] ?? m[4] ?? '');
  return out;
}

/**
 * Reads the test cases of a JUnit XML file. Tolerant on purpose: test runners write many dialects (nested suites,
 * no suites, CDATA, attributes in any order), and a gate must name failed tests rather than reject the file.
 */
export function readJUnit(xml: string): TestCase[] {
  const cases: TestCase[] = [];
  const text = xml.replace(/<!--[\s\S]*?-->/g, '');
  // Remember the innermost open suite for each position.
  const suites: { at: number; name: string }[] = [];
  for (const m of text.matchAll(/<testsuite\b([^>]*)>/g)) suites.push({ at: m.index, name: attributes(m[1]).name ?? '' });
  const suiteAt = (at: number) => {
    let name = '';
    for (const s of suites) if (s.at < at) name = s.name;
    return name;
  };
  for (const m of text.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase\s*>)/g)) {
    const attrs = attributes(m[1]);
    const inner = m[3] ?? '';
    const tc: TestCase = {
      suite: suiteAt(m.index),
      name: attrs.name ?? '(unnamed)',
      classname: attrs.classname || undefined,
      timeSeconds: attrs.time !== undefined && Number.isFinite(Number(attrs.time)) ? Number(attrs.time) : undefined,
      outcome: 'passed',
    };
    const problem = /<(failure|error|skipped)\b([^>]*?)(\/>|>([\s\S]*?)<\/\1\s*>)/.exec(inner);
    if (problem) {
      tc.outcome = problem[1] === 'failure' ? 'failed' : problem[1] === 'error' ? 'error' : 'skipped';
      const a = attributes(problem[2]);
      const body = (problem[4] ?? '').replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1').trim();
      const message = a.message || decode(body).split('\n')[0];
      if (message) tc.message = message.slice(0, 300);
    }
    cases.push(tc);
  }
  return cases;
}
