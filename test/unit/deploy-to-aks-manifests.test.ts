import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseImageReference } from '../../tasks/common/imageReference';
import type { KObj } from '../../tasks/deploy-to-aks/kubeClient';
import { addImagePullSecrets, expandGlobs, orderForApply, parseManifests, substituteImages } from '../../tasks/deploy-to-aks/manifests';

function deployment(images: string[], init: string[] = []): KObj {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: { template: { spec: { initContainers: init.map((image, i) => ({ name: `init${i}`, image })), containers: images.map((image, i) => ({ name: `c${i}`, image })) } } },
  };
}

describe('deploy-to-aks manifests', () => {
  describe('image substitution', () => {
    const sub = (obj: KObj, ...entries: string[]) => substituteImages(obj, entries.map((e) => parseImageReference(e)));
    const images = (obj: KObj) => [...obj.spec.template.spec.initContainers, ...obj.spec.template.spec.containers].map((c: { image: string }) => c.image);

    it('matches registry/repository and the repository path alone, in containers and init containers', () => {
      const obj = deployment(['shop/web', 'contoso.azurecr.io/shop/web:1.0', 'other.azurecr.io/shop/web:1.0'], ['shop/web@sha256:' + 'a'.repeat(64)]);
      const done = sub(obj, 'contoso.azurecr.io/shop/web:2.0');
      assert.deepEqual(images(obj), ['contoso.azurecr.io/shop/web:2.0', 'contoso.azurecr.io/shop/web:2.0', 'contoso.azurecr.io/shop/web:2.0', 'other.azurecr.io/shop/web:1.0']);
      assert.equal(done.length, 3);
      assert.deepEqual(done[0], { object: 'Deployment/web', container: 'init0', from: `shop/web@sha256:${'a'.repeat(64)}`, to: 'contoso.azurecr.io/shop/web:2.0' });
    });

    it('never splits on the first colon: a registry port does not over-match', () => {
      const obj = deployment(['myregistry:5000/app:1', 'myregistry:5000/app2:1', 'myregistry:5000/team/app:1']);
      sub(obj, 'myregistry:5000/app:2');
      assert.deepEqual(images(obj), ['myregistry:5000/app:2', 'myregistry:5000/app2:1', 'myregistry:5000/team/app:1']);
    });

    it('substitutes digests and normalises Docker Hub names', () => {
      const digest = `sha256:${'b'.repeat(64)}`;
      const obj = deployment(['nginx:1.25', 'library/nginx', 'docker.io/nginxinc/nginx-unprivileged:1']);
      sub(obj, `docker.io/library/nginx@${digest}`);
      assert.deepEqual(images(obj), [`docker.io/library/nginx@${digest}`, `docker.io/library/nginx@${digest}`, 'docker.io/nginxinc/nginx-unprivileged:1']);
    });

    it('covers CronJobs and Pods, and adds pull secrets once', () => {
      const cron: KObj = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'x', image: 'shop/job' }], imagePullSecrets: [{ name: 'acr' }] } } } } } };
      sub(cron, 'r.io/shop/job:3');
      assert.equal(cron.spec.jobTemplate.spec.template.spec.containers[0].image, 'r.io/shop/job:3');
      addImagePullSecrets(cron, ['acr', 'other']);
      assert.deepEqual(cron.spec.jobTemplate.spec.template.spec.imagePullSecrets, [{ name: 'acr' }, { name: 'other' }]);
      const pod: KObj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'x', image: 'shop/job:1' }] } };
      sub(pod, 'r.io/shop/job:3');
      assert.equal(pod.spec.containers[0].image, 'r.io/shop/job:3');
    });
  });

  it('orders Namespaces, CRDs, cluster-scoped, namespaced, webhooks', () => {
    const item = (kind: string, namespaced: boolean) => ({ obj: { apiVersion: 'v1', kind, metadata: { name: kind.toLowerCase() } } as KObj, namespaced });
    const ordered = orderForApply([
      item('ValidatingWebhookConfiguration', false), item('Deployment', true), item('Widget', true), item('ConfigMap', true),
      item('ClusterRole', false), item('CustomResourceDefinition', false), item('Namespace', false), item('Service', true),
    ]).map((i) => i.obj.kind);
    assert.deepEqual(ordered, ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ConfigMap', 'Service', 'Deployment', 'Widget', 'ValidatingWebhookConfiguration']);
  });

  it('parses files, skipping empty documents and flattening Lists, and refuses duplicates', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifests-'));
    fs.mkdirSync(path.join(dir, 'k8s'));
    fs.writeFileSync(path.join(dir, 'k8s', 'a.yaml'), '---\n---\nkind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n');
    fs.writeFileSync(path.join(dir, 'k8s', 'b.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n');
    const files = expandGlobs(['k8s/*.yaml'], dir);
    assert.deepEqual(files.map((f) => path.basename(f)), ['a.yaml', 'b.yaml']);
    assert.throws(() => parseManifests(files, dir), /k8s\/b\.yaml:1: ConfigMap 'a' is also defined at k8s\/a\.yaml:3 \(item 1\)/);
    assert.equal(parseManifests(files.slice(0, 1), dir).length, 1);
    assert.throws(() => expandGlobs(['missing/*.yaml'], dir), /'missing\/\*\.yaml' matches no file/);
  });
});
