// The documentation and the samples are checked against what the tasks accept: every YAML parses, every step of
// ours uses inputs its task.json has (with allowed values and its required inputs), every gate and allowlist in them
// is accepted by the task's own parser, the generated reference tables are current, and relative links resolve.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { parseGate } from '../../tasks/acceptance-gate/config';
import { parseAllowlist } from '../../tasks/defender-scan-check/allowlist';
import { ROOT } from '../helpers/agent';

interface TaskInput {
  name: string;
  type: string;
  aliases?: string[];
  required?: boolean;
  defaultValue?: string;
  visibleRule?: string;
  options?: Record<string, string>;
  properties?: Record<string, string>;
}
interface TaskJson {
  name: string;
  version: { Major: number };
  inputs: TaskInput[];
}

const TASKS: Record<string, TaskJson> = Object.fromEntries(['promote-image', 'deploy-to-aks', 'acceptance-gate', 'defender-scan-check'].map((folder) => {
  const task = JSON.parse(fs.readFileSync(path.join(ROOT, 'tasks', folder, 'task.json'), 'utf8')) as TaskJson;
  return [task.name, task];
}));

/** One YAML text found in the project's documentation: a sample file, or a fenced ```yaml block of a page. */
interface YamlText {
  where: string;
  text: string;
}

const PAGES = ['README.md', 'overview.md', ...['docs', 'samples'].flatMap((dir) => listFiles(dir, '.md'))];

function listFiles(dir: string, ext: string): string[] {
  const full = path.join(ROOT, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(ext)).map((f) => path.join(dir, f)).sort();
}

function yamlTexts(): YamlText[] {
  const texts: YamlText[] = [];
  for (const file of [...listFiles('samples', '.yml'), ...listFiles('samples', '.yaml')]) texts.push({ where: file, text: fs.readFileSync(path.join(ROOT, file), 'utf8') });
  for (const page of PAGES) {
    const lines = fs.readFileSync(path.join(ROOT, page), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*```ya?ml\s*$/.test(lines[i])) continue;
      const start = i + 1;
      const indent = /^\s*/.exec(lines[i])![0].length;
      let end = start;
      while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
      texts.push({ where: `${page}:${start + 1}`, text: lines.slice(start, end).map((l) => l.slice(indent)).join('\n') });
      i = end;
    }
  }
  return texts;
}

/** Every mapping in a YAML tree (pipelines nest steps in stages, jobs, strategies and templates). */
function* mappings(node: YamlNode | null | undefined): Generator<Map<string, YamlNode | null>> {
  if (isMap(node)) {
    const entries = new Map<string, YamlNode | null>();
    for (const pair of node.items) if (isScalar(pair.key)) entries.set(String(pair.key.value), pair.value as YamlNode | null);
    yield entries;
    for (const value of entries.values()) yield* mappings(value);
  } else if (isSeq(node)) {
    for (const item of node.items) yield* mappings(item as YamlNode);
  }
}

function scalar(node: YamlNode | null | undefined): string | undefined {
  return isScalar(node) && node.value !== null ? String(node.value) : undefined;
}

/** task.json's visibleRule (`a = x`, `!=`, `&&`, `||`) over the values a step gives, with defaults. */
function visible(rule: string | undefined, value: (name: string) => string | undefined): boolean {
  if (!rule) return true;
  return rule.split('||').some((any) => any.split('&&').every((term) => {
    const m = /^\s*(\w+)\s*(!=|=)\s*(.*?)\s*$/.exec(term);
    if (!m) return true;
    return (value(m[1]) === m[3]) === (m[2] === '=');
  }));
}

const anyVariable = () => ({ value: 'value-of-variable', secret: false });

/** What is wrong with the steps of our tasks in one YAML text; also checks inline gates. */
export function stepProblems(text: string): { steps: number; problems: string[] } {
  const problems: string[] = [];
  let steps = 0;
  for (const doc of parseAllDocuments(text)) {
    for (const m of mappings(doc.contents as YamlNode)) {
      const ref = /^(\w+)@(\d+)$/.exec(scalar(m.get('task')) ?? '');
      if (!ref || !TASKS[ref[1]]) continue;
      steps++;
      const task = TASKS[ref[1]];
      if (Number(ref[2]) !== task.version.Major) problems.push(`${ref[0]}: task.json is version ${task.version.Major}`);
      const given = new Map<string, YamlNode | null>();
      for (const [key, value] of mappings(m.get('inputs')).next().value ?? new Map<string, YamlNode | null>()) {
        const input = task.inputs.find((i) => i.name === key || i.aliases?.includes(key));
        if (!input) problems.push(`${ref[0]}: no input '${key}' in task.json`);
        else given.set(input.name, value);
      }
      const value = (name: string) => (given.has(name) ? scalar(given.get(name)) : task.inputs.find((i) => i.name === name)?.defaultValue);
      for (const input of task.inputs) {
        const v = given.has(input.name) ? scalar(given.get(input.name)) ?? '' : undefined;
        if (input.required && v === undefined && !input.defaultValue && visible(input.visibleRule, value)) problems.push(`${ref[0]}: required input '${input.name}' is missing`);
        if (v === undefined || v.includes('$(')) continue;
        if (input.type === 'boolean' && v !== 'true' && v !== 'false') problems.push(`${ref[0]}: '${input.name}' must be true or false, not '${v}'`);
        if (input.options && input.properties?.EditableOptions !== 'True' && !(v in input.options)) problems.push(`${ref[0]}: '${input.name}' must be one of ${Object.keys(input.options).join(', ')}, not '${v}'`);
      }
      const gate = ref[1] === 'AcceptanceGate' ? scalar(given.get('gate')) : undefined;
      if (gate !== undefined) {
        try {
          parseGate(gate, 'inline gate', anyVariable);
        } catch (err) {
          problems.push(`${ref[0]}: ${(err as Error).message}`);
        }
      }
    }
  }
  return { steps, problems };
}

/** The anchors GitHub and Azure DevOps give a page's headings: lower case, punctuation dropped, spaces as '-'. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) anchors.add(m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  return anchors;
}

describe('documentation and samples', () => {
  const texts = yamlTexts();

  it('finds YAML in every task page and in the samples', () => {
    for (const page of ['docs/promote-image.md', 'docs/deploy-to-aks.md', 'docs/acceptance-gate.md', 'docs/defender-scan-check.md']) {
      assert.ok(texts.some((t) => t.where.startsWith(`${page}:`)), `${page} has YAML examples`);
    }
    assert.ok(texts.some((t) => t.where.startsWith('samples/') && !t.where.endsWith('.md')), 'samples/ has pipeline files');
  });

  it('every YAML parses', () => {
    const broken = texts.flatMap((t) => parseAllDocuments(t.text).flatMap((d) => d.errors.map((e) => `${t.where}: ${e.message.split('\n')[0]}`)));
    assert.deepEqual(broken, []);
  });

  it("every step of ours uses inputs its task.json has, with allowed values and every required input", () => {
    let steps = 0;
    const problems: string[] = [];
    for (const t of texts) {
      const found = stepProblems(t.text);
      steps += found.steps;
      problems.push(...found.problems.map((p) => `${t.where}: ${p}`));
    }
    assert.deepEqual(problems, []);
    assert.ok(steps >= 20, `found ${steps} steps of the extension's tasks`);
  });

  it('the check catches what it is for: an unknown input, a bad choice, a missing required input, a gate the task refuses', () => {
    const { problems } = stepProblems(`steps:
- task: PromoteImage@1
  inputs: { sourceImage: a/b:c, targetRegistry: r.io, overwriteTag: true, method: copy }
- task: DeployToAks@1
  inputs: { azureSubscription: x, manifests: k8s/*.yaml }
- task: AcceptanceGate@1
  inputs: { gate: "checks:\\n  - name: x\\n    http: { url: 'https://a' }\\n    expekt: {}" }
`);
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems.join('\n'), /no input 'overwriteTag'/);
    assert.match(problems.join('\n'), /'method' must be one of auto, acrImport, ociCopy/);
    assert.match(problems.join('\n'), /required input 'resourceGroup'/);
    assert.match(problems.join('\n'), /unknown key 'expekt'/);
  });

  it('every gate and allowlist shown on its own is accepted by the task that reads it', () => {
    let gates = 0;
    let allowlists = 0;
    for (const t of texts) {
      const value = parseAllDocuments(t.text)[0]?.toJS() as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value) && 'checks' in value) {
        gates++;
        assert.doesNotThrow(() => parseGate(t.text, t.where, anyVariable), t.where);
      }
      if (Array.isArray(value) && value.every((e) => e && typeof e === 'object' && 'id' in e && 'expires' in e)) {
        allowlists++;
        assert.doesNotThrow(() => parseAllowlist(t.text, t.where), t.where);
      }
    }
    assert.ok(gates >= 1 && allowlists >= 1, `${gates} gates, ${allowlists} allowlists`);
  });

  it('the inputs and outputs tables of each task page are generated from its current task.json', async () => {
    const { stalePages } = await import('../../scripts/docs.mjs');
    assert.deepEqual(stalePages(), [], 'run npm run docs to regenerate the tables from task.json');
  });

  it("the marketplace page shows pictures that npm run pictures made: each a PNG of the script's width", () => {
    const overview = fs.readFileSync(path.join(ROOT, 'overview.md'), 'utf8');
    const pictures = [...overview.matchAll(/!\[[^\]]*\]\((images\/[^)]+\.png)\)/g)].map((m) => m[1]);
    assert.ok(pictures.length >= 6, `${pictures.length} pictures`);
    const script = fs.readFileSync(path.join(ROOT, 'scripts/pictures.mjs'), 'utf8');
    const width = Number(/const WIDTH = (\d+)/.exec(script)?.[1]);
    for (const picture of pictures) {
      const png = fs.readFileSync(path.join(ROOT, picture));
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', picture);
      assert.equal(png.readUInt32BE(16), width, `${picture} is ${png.readUInt32BE(16)} pixels wide`);
    }
  });

  it('relative links between the pages resolve, to a heading where they name one', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const [target, anchor] = m[1].split('#');
        if (/^[a-z]+:/.test(m[1])) continue;
        const file = target ? path.join(ROOT, path.dirname(page), target) : path.join(ROOT, page);
        if (!fs.existsSync(file)) broken.push(`${page}: ${m[1]}`);
        else if (anchor && file.endsWith('.md') && !headingAnchors(fs.readFileSync(file, 'utf8')).has(anchor)) broken.push(`${page}: ${m[1]} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
