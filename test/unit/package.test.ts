import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv-draft-04';
import { COMPILE_CACHE_FOLDER } from '../../tasks/common/compileCache';
import { ROOT } from '../helpers/agent';

// The extension's task ids. They identify the tasks in every organisation that installed the extension and must
// never change; a new id would be a new task.
const TASK_IDS: Record<string, string> = {
  'promote-image': '93e875a2-0316-4d51-95b2-f263d37b5610',
  'deploy-to-aks': '35761652-9917-4688-a38c-27aad7df54c2',
  'acceptance-gate': 'f6561e06-c690-418d-9afc-57b0a48ace40',
  'defender-scan-check': '2a33a01c-5334-4bfb-b02b-f666c6c4858c',
};

// The interface of DESIGN.md §3: task names, inputs and outputs pipelines rely on.
const CONTRACT: Record<string, { name: string; inputs: string[]; outputs: string[] }> = {
  'promote-image': {
    name: 'PromoteImage',
    inputs: ['sourceImage', 'targetRegistry', 'targetRepository', 'targetTags', 'method', 'azureSubscription', 'sourceRegistryConnection', 'targetRegistryConnection', 'overwriteTags', 'copyReferrers', 'lockPromotedImage'],
    outputs: ['imageDigest', 'promotedImage', 'promotedTags'],
  },
  'deploy-to-aks': {
    name: 'DeployToAks',
    inputs: ['connectionType', 'azureSubscription', 'resourceGroup', 'kubernetesCluster', 'useClusterAdmin', 'kubernetesServiceConnection', 'kubeconfig', 'manifests', 'namespace', 'images', 'imagePullSecrets', 'rolloutTimeout', 'dryRun', 'prune', 'rollbackOnFailure',
      'recreateStuckPods', 'onSuperseded', 'deliveryMode', 'gitRepository', 'gitBranch', 'gitPath', 'gitChange', 'autoComplete', 'waitForReconcile', 'fluxConfiguration',
      'reconcileTimeout', 'strategy', 'action', 'trafficSplit', 'percentage', 'httpRoute', 'scaleDownDelaySeconds'],
    outputs: ['appliedObjects', 'deployedImages', 'gitCommit', 'pullRequestId', 'appliedRevision', 'canaryWorkloads', 'baselineWorkloads', 'activeColour'],
  },
  'acceptance-gate': {
    name: 'AcceptanceGate',
    inputs: ['gate', 'gateFile', 'azureSubscription', 'publishTestResults'],
    outputs: ['gateResult', 'gateReason'],
  },
  'defender-scan-check': {
    name: 'DefenderScanCheck',
    inputs: ['azureSubscription', 'image', 'failOnSeverity', 'onlyFixable', 'allowlist', 'waitForScan', 'onMissingScan', 'dataSource'],
    outputs: ['criticalCount', 'highCount', 'mediumCount', 'lowCount', 'scanResult'],
  },
};

interface TaskJson {
  id: string;
  name: string;
  friendlyName: string;
  version: { Major: number; Minor: number; Patch: number };
  instanceNameFormat: string;
  groups?: { name: string }[];
  inputs: { name: string; type: string; groupName?: string; visibleRule?: string; defaultValue?: string; required?: boolean; options?: Record<string, string> }[];
  dataSourceBindings?: { target: string; endpointId: string }[];
  outputVariables?: { name: string }[];
  execution: Record<string, { target: string }>;
  messages: Record<string, string>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const vsixPath = () => {
  const name = fs.readdirSync(path.join(ROOT, 'build')).find((f) => f.endsWith('.vsix'));
  assert.ok(name, 'npm test packages the extension before the tests run');
  return path.join(ROOT, 'build', name);
};
const vsixFiles = (file: string) => execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
const vsixRead = (file: string, entry: string) => execFileSync('unzip', ['-p', file, entry], { encoding: 'utf8' });

describe('the package', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/data/tasks.schema.json'), 'utf8')) as Record<string, unknown>;
  delete schema.id;
  const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false }).compile(schema);

  for (const folder of Object.keys(CONTRACT)) {
    describe(`build/tasks/${folder}`, () => {
      const dir = path.join(ROOT, 'build/tasks', folder);
      const task = () => JSON.parse(fs.readFileSync(path.join(dir, 'task.json'), 'utf8')) as TaskJson;

      it('has a task.json that validates against the official task schema', () => {
        const ok = validate(task());
        assert.ok(ok, JSON.stringify(validate.errors, null, 2));
      });

      it('keeps the contract: name, id, inputs, outputs, handlers, version', () => {
        const t = task();
        assert.equal(t.name, CONTRACT[folder].name);
        assert.equal(t.id, TASK_IDS[folder]);
        const inputs = t.inputs.map((i) => i.name);
        for (const input of CONTRACT[folder].inputs) assert.ok(inputs.includes(input), `input ${input}`);
        assert.deepEqual((t.outputVariables ?? []).map((o) => o.name).sort(), [...CONTRACT[folder].outputs].sort());
        assert.deepEqual(Object.keys(t.execution).sort(), ['Node20_1', 'Node24']);
        assert.ok(t.friendlyName.length <= 40, 'friendlyName at most 40 characters (tfx)');
        assert.ok(t.instanceNameFormat);
        assert.equal(`${t.version.Major}.${t.version.Minor}.${t.version.Patch}`, pkg.version, 'the extension version is stamped into task.json');
      });

      it('is complete for the classic editor: labels, help, groups, rules and bindings refer to real inputs', () => {
        const t = task();
        const names = new Set(t.inputs.map((i) => i.name));
        const groups = new Set((t.groups ?? []).map((g) => g.name));
        for (const input of t.inputs as (TaskJson['inputs'][number] & { label?: string; helpMarkDown?: string })[]) {
          assert.ok(input.label && input.helpMarkDown, `${input.name} has a label and help`);
          if (input.groupName) assert.ok(groups.has(input.groupName), `${input.name}: group ${input.groupName}`);
          for (const ref of (input.visibleRule ?? '').match(/[A-Za-z][A-Za-z0-9]*(?=\s*(=|!=|NotEndsWith|EndsWith|Contains))/g) ?? []) {
            assert.ok(names.has(ref), `${input.name}: visibleRule names unknown input ${ref}`);
          }
          if (input.type === 'pickList' && input.options && input.defaultValue) assert.ok(input.defaultValue in input.options, `${input.name}: default is one of the options`);
        }
        for (const b of t.dataSourceBindings ?? []) {
          assert.ok(names.has(b.target), `binding target ${b.target}`);
          assert.ok(names.has(b.endpointId.replace(/^\$\((.*)\)$/, '$1')), `binding endpoint ${b.endpointId}`);
        }
      });

      it('holds exactly what ships: task.json, icon.png, the entry bundle and the bundles loaded on demand', () => {
        // Each dynamic import is a bundle of its own (scripts/build.mjs): run.js once the inputs are valid, and deeper
        // down the SDKs and the credential code a run may never need.
        const credentials = ['common-identityCredential.js', 'common-pipelineOidcToken.js'];
        const lazy = {
          'acceptance-gate': ['run.js', 'common-azureCredential.js', ...credentials],
          'promote-image': ['run.js', 'acr.js', 'common-azureCredential.js', ...credentials],
          'defender-scan-check': ['run.js', 'allowlist.js', 'resourceGraph.js', ...credentials],
          'deploy-to-aks': ['run.js', 'armCredential.js', 'gitopsDelivery.js', 'gitopsRollouts.js', 'kubeSdk.js', 'common-azureCredential.js', ...credentials],
        }[folder]!;
        // A run of the task writes its code cache into the folder (tasks/common/compileCache.ts); it never ships.
        assert.deepEqual(fs.readdirSync(dir).filter((f) => f !== COMPILE_CACHE_FOLDER).sort(), ['icon.png', 'index.js', 'main.js', ...lazy, 'task.json'].sort());
        for (const bundle of lazy) assert.doesNotMatch(fs.readFileSync(path.join(dir, bundle), 'utf8'), /LIB_InputRequired/, `${bundle} holds no second copy of the task library`);
        // MSAL is read only for a certificate or a managed identity, never on the way to a secret's or a federated token's first request.
        const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
        assert.match(read('common-identityCredential.js'), /msal-node/);
        for (const f of lazy.filter((b) => !credentials.includes(b))) assert.doesNotMatch(read(f), /msal-node/, `${f} holds no MSAL`);
        for (const handler of Object.values(task().execution)) assert.equal(handler.target, 'index.js');
        const loader = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
        assert.match(loader, /require\("\.\/main\.js"\)/, 'index.js loads the entry, main.js');
        assert.ok(loader.length < 4000, `index.js is the loader alone (${loader.length} bytes)`);
        assert.match(fs.readFileSync(path.join(dir, 'main.js'), 'utf8'), /(import|require)\("\.\/run\.js"\)/, 'the entry loads run.js');
        assert.doesNotMatch(fs.readFileSync(path.join(dir, 'run.js'), 'utf8'), /LIB_InputRequired/, 'run.js holds no second copy of the task library');
        const png = fs.readFileSync(path.join(dir, 'icon.png'));
        assert.equal(png.subarray(1, 4).toString(), 'PNG');
      });

      it('has every message the bundle uses', () => {
        const bundle = fs.readFileSync(path.join(dir, 'main.js'), 'utf8');
        const used = [...bundle.matchAll(/\.loc\("([A-Za-z]+)"/g)].map((m) => m[1]);
        assert.ok(used.includes('UnexpectedError'), 'the entry formats unexpected errors through task.json messages');
        for (const key of used) assert.ok(key in task().messages, `message ${key}`);
      });
    });
  }

  describe('the .vsix', () => {
    it('holds the four task folders, each with task.json, icon and bundle, and no sources, tests or node_modules', () => {
      const files = vsixFiles(vsixPath());
      for (const folder of Object.keys(CONTRACT)) {
        for (const f of ['task.json', 'icon.png', 'index.js', 'main.js', 'run.js']) assert.ok(files.includes(`tasks/${folder}/${f}`), `tasks/${folder}/${f}`);
      }
      const unexpected = files.filter((f) => /\.ts$|\.map$|node_modules|(^|\/)test\/|package(-lock)?\.json$|\.compile-cache/.test(f));
      assert.deepEqual(unexpected, []);
      assert.ok(files.includes('extension.vsixmanifest') && files.includes('images/icon.png') && files.includes('overview.md'));
    });

    it('declares four task contributions with unique, stable ids and versions that agree', () => {
      const file = vsixPath();
      const manifest = JSON.parse(vsixRead(file, 'extension.vsomanifest')) as { contributions: { id: string; type: string; properties: { name: string } }[] };
      const tasks = manifest.contributions.filter((c) => c.type === 'ms.vss-distributed-task.task');
      assert.deepEqual(tasks.map((c) => c.properties.name).sort(), Object.keys(CONTRACT).map((f) => `tasks/${f}`).sort());
      const ids = Object.keys(CONTRACT).map((f) => (JSON.parse(vsixRead(file, `tasks/${f}/task.json`)) as TaskJson).id);
      assert.deepEqual(ids, Object.keys(CONTRACT).map((f) => TASK_IDS[f]));
      assert.equal(new Set(ids).size, 4);
      const vsixManifest = vsixRead(file, 'extension.vsixmanifest');
      assert.match(vsixManifest, new RegExp(`Version="${pkg.version.replace(/\./g, '\\.')}"`));
      for (const f of Object.keys(CONTRACT)) {
        const v = (JSON.parse(vsixRead(file, `tasks/${f}/task.json`)) as TaskJson).version;
        assert.equal(`${v.Major}.${v.Minor}.${v.Patch}`, pkg.version);
      }
      assert.match(vsixManifest, /<GalleryFlags\/>|<GalleryFlags>(?![^<]*Public)[^<]*<\/GalleryFlags>/, 'private by default');
    });

    it('is at most 5 MB', () => {
      const mb = fs.statSync(vsixPath()).size / (1024 * 1024);
      assert.ok(mb <= 5, `${mb.toFixed(2)} MB`);
    });
  });

  describe('the dev channel', function () {
    this.timeout(120_000);
    after(async () => {
      const { packageExtension } = await import('../../scripts/package.mjs');
      await packageExtension({ quiet: true });
    });

    it('packages a private copy with its own extension id, task ids and task names', async () => {
      const { packageExtension } = await import('../../scripts/package.mjs');
      const file = await packageExtension({ dev: true, quiet: true }) as string;
      assert.match(path.basename(file), /-dev-/);
      assert.deepEqual(fs.readdirSync(path.join(ROOT, 'build')).filter((f) => f.endsWith('.vsix')), [path.basename(file)], 'it replaces the released package');
      const manifest = vsixRead(file, 'extension.vsixmanifest');
      assert.match(manifest, /Id="aks-secure-delivery-dev"/);
      for (const [folder, contract] of Object.entries(CONTRACT)) {
        const t = JSON.parse(vsixRead(file, `tasks/${folder}/task.json`)) as TaskJson;
        assert.equal(t.name, `${contract.name}Dev`);
        assert.notEqual(t.id, TASK_IDS[folder]);
        assert.match(t.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.ok(t.friendlyName.endsWith('(dev)'));
      }
    });
  });
});
