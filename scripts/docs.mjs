// `npm run docs`: writes the inputs and outputs tables of each task's page (docs/<folder>.md) from its task.json,
// between the page's markers, so the reference cannot drift from what the task accepts. `--check` changes nothing
// and exits 1 when a page is out of date (the docs test does the same check).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TASK_FOLDERS } from './tasks.mjs';

const root = path.resolve(import.meta.dirname, '..');
const SECTIONS = ['inputs', 'outputs'];

/** The marker lines around a generated section. */
export function markers(section) {
  return {
    begin: `<!-- generated:${section} from task.json by scripts/docs.mjs (npm run docs); edit task.json, not this table -->`,
    end: `<!-- end generated:${section} -->`,
  };
}

/** A table cell: one line, pipes escaped. */
function cell(text) {
  return String(text ?? '').replace(/\r?\n+/g, ' ').replace(/\|/g, '\\|').trim();
}

function typeOf(input) {
  const options = input.options ? Object.entries(input.options) : [];
  const shown = options.map(([value, label]) => (value === label ? `\`${value}\`` : `\`${value}\` (${label})`)).join(', ');
  if (input.type.startsWith('connectedService:')) return `service connection (${input.type.slice('connectedService:'.length)})`;
  if (options.length) return `${input.type === 'radio' ? 'one of' : 'pick list'}: ${shown}${input.properties?.EditableOptions === 'True' ? ', or any value' : ''}`;
  if (input.type === 'pickList' && input.properties?.EditableOptions === 'True') return 'text (with a picker in the classic editor)';
  return { string: 'text', multiLine: 'lines', filePath: 'file path', boolean: '`true` / `false`', int: 'number' }[input.type] ?? input.type;
}

function inputRow(input) {
  const name = [`\`${input.name}\``, ...(input.aliases ?? []).map((a) => `alias \`${a}\``)].join('<br>');
  const required = input.required ? (input.visibleRule ? `when ${cell(input.visibleRule)}` : 'yes') : 'no';
  const defaultValue = input.defaultValue === undefined || input.defaultValue === '' ? '' : `\`${input.defaultValue}\``;
  const shownWhen = input.visibleRule && !input.required ? ` Shown when ${input.visibleRule}.` : '';
  return `| ${name} | ${cell(input.label)} | ${cell(typeOf(input))} | ${required} | ${defaultValue} | ${cell(input.helpMarkDown)}${cell(shownWhen)} |`;
}

/** The inputs table, one block per group of the classic editor in task.json's order, and the outputs table. */
export function renderSection(section, task) {
  if (section === 'outputs') {
    const rows = (task.outputVariables ?? []).map((o) => `| \`${o.name}\` | ${cell(o.description)} |`);
    return ['| output variable | value |', '|---|---|', ...rows].join('\n');
  }
  const groups = [...(task.groups ?? []), { name: undefined, displayName: 'Other' }];
  const blocks = [];
  for (const group of groups) {
    const inputs = task.inputs.filter((i) => (group.name === undefined ? !task.groups?.some((g) => g.name === i.groupName) : i.groupName === group.name));
    if (!inputs.length) continue;
    blocks.push([
      `**${group.displayName}**`, '',
      '| input | label in the classic editor | type | required | default | meaning |', '|---|---|---|---|---|---|',
      ...inputs.map(inputRow),
    ].join('\n'));
  }
  return blocks.join('\n\n');
}

/** The page with each generated section replaced by what task.json says now. */
export function updatePage(text, task, page = 'the page') {
  let out = text;
  for (const section of SECTIONS) {
    const { begin, end } = markers(section);
    const start = out.indexOf(begin);
    const stop = out.indexOf(end);
    if (start < 0 || stop < start) throw new Error(`${page} has no '${begin}' … '${end}' markers`);
    out = `${out.slice(0, start + begin.length)}\n${renderSection(section, task)}\n${out.slice(stop)}`;
  }
  return out;
}

export function readTask(folder) {
  return JSON.parse(fs.readFileSync(path.join(root, 'tasks', folder, 'task.json'), 'utf8'));
}

export function pagePath(folder) {
  return path.join(root, 'docs', `${folder}.md`);
}

/** The task pages that are out of date with their task.json. */
export function stalePages() {
  return TASK_FOLDERS.filter((folder) => {
    const text = fs.readFileSync(pagePath(folder), 'utf8');
    return updatePage(text, readTask(folder), pagePath(folder)) !== text;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--check')) {
    const stale = stalePages();
    for (const folder of stale) console.error(`docs/${folder}.md is out of date with tasks/${folder}/task.json: run npm run docs`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const folder of TASK_FOLDERS) {
    const file = pagePath(folder);
    const text = fs.readFileSync(file, 'utf8');
    const updated = updatePage(text, readTask(folder), file);
    if (updated !== text) fs.writeFileSync(file, updated);
    console.log(`docs/${folder}.md ${updated === text ? 'up to date' : 'updated'}`);
  }
}
