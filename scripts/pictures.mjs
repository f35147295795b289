// `npm run pictures`: the marketplace page's pictures (images/*.png), made from the demo's real output. It runs the
// demo (the happy path, its canary and GitOps variants, and the failure scenarios), which writes every step's result
// and uploaded Markdown summary to build/demo/<run>.json, renders each summary with markdown-it (CommonMark and GFM
// tables, the Markdown of the pipeline's summary tab) in a page styled like the run's summary tab, and photographs it
// with Debian's headless Chromium. `--no-demo` renders the records already in build/demo.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import MarkdownIt from 'markdown-it';
import { packageExtension } from './package.mjs';

const root = path.resolve(import.meta.dirname, '..');
const records = path.join(root, 'build/demo');
const pages = path.join(root, 'build/pictures');
const images = path.join(root, 'images');
const WIDTH = 980;
/** The demo runs the pictures show; exit code 0 is the happy path delivered, 3 a scenario stopped as it should be. */
// In the order of the step that stops each: Defender gate, staging (push, then GitOps), staging gate, promotion, canary gate.
const SCENARIOS = ['vulnerable-image', 'crashing-image', 'gitops-noncompliant', 'error-ratio', 'tag-conflict', 'canary-regression'];
const VARIANTS = [{ args: [], code: 0 }, { args: ['--strategy', 'canary'], code: 0 }, { args: ['--gitops'], code: 0 }];
const RUNS = [...VARIANTS, ...SCENARIOS.map((s) => ({ args: ['--scenario', s], code: 3 }))];

const md = new MarkdownIt({ html: false, linkify: true });

const STYLE = `
  body { margin: 0; background: #f8f8f8; font: 14px/20px "Segoe UI", "Liberation Sans", "DejaVu Sans", sans-serif; color: #201f1e; }
  .card { margin: 16px; background: #fff; border-radius: 4px; box-shadow: 0 1.6px 3.6px rgba(0,0,0,.13), 0 .3px .9px rgba(0,0,0,.11); }
  .card > header { padding: 12px 20px; border-bottom: 1px solid #eaeaea; font-weight: 600; font-size: 16px; display: flex; gap: 10px; align-items: center; }
  .card > header small { font-weight: 400; color: #605e5c; font-size: 12px; }
  .body { padding: 4px 20px 16px; overflow-wrap: break-word; }
  h3 { font-size: 18px; margin: 14px 0 8px; } h4 { font-size: 15px; margin: 14px 0 6px; }
  table { border-collapse: collapse; margin: 8px 0 12px; }
  th, td { border: 1px solid #e1dfdd; padding: 4px 10px; text-align: left; vertical-align: top; }
  th { background: #f3f2f1; font-weight: 600; white-space: nowrap; }
  td.short { white-space: nowrap; }
  table.fixed { table-layout: fixed; width: 100%; } table.fixed td { overflow-wrap: anywhere; }
  code { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; background: #f3f2f1; padding: 1px 4px; border-radius: 2px; overflow-wrap: anywhere; }
  ul { padding-left: 22px; } li { margin: 2px 0; }
  .ok { color: #107c10; font-weight: 600; } .bad { color: #a4262c; font-weight: 600; } .warn { color: #8a6d00; font-weight: 600; }
  .tabs { display: flex; gap: 24px; padding: 10px 20px 0; border-bottom: 1px solid #eaeaea; color: #605e5c; }
  .tabs span { padding-bottom: 8px; } .tabs .on { color: #201f1e; border-bottom: 2px solid #0078d4; font-weight: 600; }`;

function escape(text) {
  return String(text ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function statusClass(status) {
  return status === 'Succeeded' ? 'ok' : status === 'Failed' ? 'bad' : 'warn';
}

/** A task's uploaded summary as the run's summary tab shows it: a section named after the file, the Markdown below. */
function summaryPage(step) {
  const section = (step.summaryFile ?? `${step.task}.md`).replace(/\.md$/, '');
  return page(step.name, `<div class="card"><div class="tabs"><span class="on">Summary</span><span>Logs</span><span>Tests</span></div>
    <header>${escape(section)} <small>${escape(step.name)} · ${escape(step.task)}</small></header>
    <div class="body">${md.render(step.summary)}</div></div>`);
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The flow's result: each step of the happy path with its result, time and one-line reason. */
function flowPage(run, command) {
  const rows = run.steps.map((s) => `<tr><td class="short">${escape(s.name)}</td><td class="short"><code>${escape(s.task)}</code></td>
    <td class="short ${statusClass(s.status)}">${escape(s.status)}</td><td class="short">${seconds(s.durationMs)}</td><td>${escape(s.message)}</td></tr>`).join('');
  const same = run.builtDigest === run.productionDigest;
  return page('The delivery flow', `<div class="card"><header>The delivery flow <small>${escape(command)}</small></header><div class="body">
    <table class="fixed"><colgroup><col style="width:18%"><col style="width:18%"><col style="width:11%"><col style="width:7%"><col style="width:46%"></colgroup>
    <tr><th>step</th><th>task</th><th>result</th><th>time</th><th>reason</th></tr>${rows}</table>
    <p class="${same ? 'ok' : 'bad'}">${same ? 'Delivered' : 'Mismatch:'} <code>${escape(run.builtDigest)}</code> from the non-production registry to production.</p></div></div>`);
}

/** What each scenario's flawed build was stopped by, why, and what production held afterwards. */
function scenariosPage(runs) {
  const rows = runs.map((r) => {
    const unchanged = r.changes.length === 0;
    // A canary ran from the production registry, so the registry holds its tag; the stable Deployment is what users get.
    const verdict = !unchanged ? 'CHANGED' : r.promoted ? `unchanged (the registry holds ${r.promoted.tag} for the canary)` : 'unchanged';
    return `<tr><td class="short"><code>${escape(r.scenario)}</code></td><td>${escape(r.description)}</td>
      <td class="bad">${escape(r.stoppedAt ?? 'nothing')}</td><td>${escape(r.reason)}</td>
      <td class="${unchanged ? 'ok' : 'bad'}">${escape(verdict)}</td></tr>`;
  }).join('');
  return page('What the flow stops', `<div class="card"><header>What the flow stops <small>npm run demo -- --scenario &lt;name&gt;</small></header><div class="body">
    <table class="fixed"><colgroup><col style="width:19%"><col style="width:22%"><col style="width:13%"><col style="width:35%"><col style="width:11%"></colgroup>
    <tr><th>scenario</th><th>the flawed build</th><th>stopped by</th><th>reason</th><th>production</th></tr>${rows}</table></div></div>`);
}

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--force-device-scale-factor=1'];

function chromium(args) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pictures-chromium-'));
  try {
    return execFileSync('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Renders a page to images/<name>.png at the height its content needs (measured in a first pass). */
function photograph(name, html) {
  fs.mkdirSync(pages, { recursive: true });
  const file = path.join(pages, `${name}.html`);
  // The card's bottom edge plus the page margin: scrollHeight never reports less than the window.
  const measure = `<script>addEventListener('load', () => { document.body.dataset.height = Math.ceil(document.querySelector('.card').getBoundingClientRect().bottom) + 16; });</script>`;
  fs.writeFileSync(file, html.replace('</body>', `${measure}</body>`));
  const dom = chromium([`--window-size=${WIDTH},200`, '--dump-dom', `file://${file}`]);
  const height = Number(/data-height="(\d+)"/.exec(dom)?.[1]);
  if (!height) throw new Error(`could not measure ${file}`);
  fs.writeFileSync(file, html);
  const out = path.join(images, `${name}.png`);
  chromium([`--window-size=${WIDTH},${height}`, `--screenshot=${out}`, `file://${file}`]);
  // A screenshot of text needs no more than 256 colours: a third of the bytes, and the .vsix carries every picture.
  execFileSync('pngquant', ['--force', '--skip-if-larger', '--strip', '--quality=80-98', '--output', out, out]);
  console.log(`images/${name}.png (${WIDTH}×${height}, ${(fs.statSync(out).size / 1024).toFixed(0)} KB)`);
}

function read(name) {
  return JSON.parse(fs.readFileSync(path.join(records, `${name}.json`), 'utf8'));
}

if (!process.argv.includes('--no-demo')) {
  execFileSync('bash', [path.join(root, 'scripts/install-system-deps.sh')], { stdio: 'inherit' });
  await packageExtension({ quiet: true });
  for (const run of RUNS) {
    console.log(`demo ${run.args.join(' ') || '(happy path)'}`);
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test/e2e/demo.ts'), ...run.args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (result.status !== run.code) throw new Error(`the demo ${run.args.join(' ')} ended with ${result.status}, not ${run.code}: run it to see why`);
  }
}
execFileSync('bash', [path.join(root, 'scripts/install-picture-deps.sh')], { stdio: 'inherit' });

const happy = read('happy-path');
const canary = read('happy-path-canary');
const gitops = read('happy-path-gitops');
const scenarios = SCENARIOS.map(read);
const pictures = [
  ['flow', flowPage(happy, 'npm run demo')],
  ['flow-canary', flowPage(canary, 'npm run demo -- --strategy canary')],
  ['flow-gitops', flowPage(gitops, 'npm run demo -- --gitops')],
  ['scenarios', scenariosPage(scenarios)],
  ...happy.steps.filter((s, i, all) => all.findIndex((o) => o.task === s.task) === i).map((s) => [`summary-${s.task}`, summaryPage(s)]),
  ['summary-canary-gate', summaryPage(canary.steps.find((s) => s.name === 'Canary gate'))],
  ['summary-gitops-delivery', summaryPage(gitops.steps.find((s) => s.name === 'Deploy to production'))],
  // The step that stopped the build (a rejected canary's clean-up runs after it).
  ...scenarios.map((run) => [`failure-${run.scenario}`, summaryPage(run.steps.find((s) => s.name === run.stoppedAt))])
    .filter(([, html]) => !html.includes('<div class="body"></div>')),
];
for (const [name, html] of pictures) photograph(name, html);
