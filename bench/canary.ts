// Canary verdict: from a bad canary coming up beside its baseline to the acceptance gate's Failed, with a 1 s
// interval. Two sample apps (the baseline answering 1 % errors, the canary 10 %) are real processes' stand-ins on
// loopback, discovered by the real Prometheus through file_sd_configs the moment the canary comes up, labelled with
// the track label deploy-to-aks puts on pods; the built AcceptanceGate task compares them with its compare check.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateAuthority } from '../test/env/ca';
import { SampleApp } from '../test/env/monitoring';
import { ManagedProcess, freePort, requireCommand } from '../test/env/processes';
import { runTask } from '../test/helpers/agent';
import { median, report, round } from './lib/report';

const RUNS = 3;
const TRACK = 'aks_secure_delivery_dev_track';

async function main(): Promise<void> {
  requireCommand('prometheus', 'prometheus');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-canary-'));
  const ca = CertificateAuthority.create(path.join(dir, 'ca'));
  const tls = { cert: ca.server.certPem, key: ca.server.keyPem };
  const seconds: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const baseline = await SampleApp.start(tls);
    baseline.set({ errorRatio: 0.01 });
    const targets = path.join(dir, `targets-${run}.json`);
    const writeTargets = (apps: [SampleApp, string][]) => {
      fs.writeFileSync(`${targets}.tmp`, JSON.stringify(apps.map(([app, track]) => ({ targets: [app.host], labels: { [TRACK]: track } }))));
      fs.renameSync(`${targets}.tmp`, targets);
    };
    writeTargets([[baseline, 'baseline']]);
    const config = path.join(dir, `prometheus-${run}.yml`);
    fs.writeFileSync(config, [
      'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: pods',
      `    file_sd_configs: [{ files: ['${targets}'] }]`,
      '',
    ].join('\n'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const prometheus = ManagedProcess.start('prometheus', 'prometheus', [
      `--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, `data-${run}`)}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], path.join(dir, `prometheus-${run}.log`));
    let canary: SampleApp | undefined;
    try {
      await prometheus.waitUntil(async () => (await fetch(`${url}/-/ready`)).ok, 30_000);
      // The bad canary comes up (the moment deploy-to-aks reports it ready) and is discovered like a pod.
      const rolledOut = Date.now();
      canary = await SampleApp.start(tls);
      canary.set({ errorRatio: 0.1 });
      writeTargets([[baseline, 'baseline'], [canary, 'canary']]);
      const ratio = `sum(rate(http_requests_total{code="500",${TRACK}="{{version}}"}[3s])) / sum(rate(http_requests_total{${TRACK}="{{version}}"}[3s]))`;
      const gate = `interval: 1\nrequiredSuccesses: 3\ntimeout: 120\nchecks:\n  - name: error ratio\n    compare: { url: "${url}", query: '${ratio}', direction: increase, minSamples: 10 }\n`;
      const started = Date.now();
      const result = await runTask('acceptance-gate', { inputs: { gate }, timeoutMs: 150_000 });
      if (result.result?.status !== 'Failed' || !/High/.test(result.result.message)) throw new Error(`run ${run}: expected Failed with High, got ${result.result?.status}: ${result.result?.message}`);
      seconds.push((started + result.durationMs - rolledOut) / 1000);
    } finally {
      await prometheus.stop();
      await canary?.close();
      await baseline.close();
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`bad canary -> gate Failed (s): ${seconds.map((s) => s.toFixed(1)).join(', ')} (median reported)`);
  report('canary', { canaryVerdictSeconds: round(median(seconds), 1) }, {
    canaryVerdictSeconds: 'under 30 s (interval 1 s, minSamples 10; KubernetesManifest@1 and k8s-deploy leave the verdict to a person)',
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
