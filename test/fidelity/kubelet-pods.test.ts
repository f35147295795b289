import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { parse } from 'yaml';
import { workload, writeManifest, type DeployFixture } from '../tasks/deploy-to-aks-fixture';
import { fidelity } from './harness';
import { deploy, get, service, until } from './workloads';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const image = (f: DeployFixture) => `${f.image}:1.0`;

describe('Kubernetes emulator fidelity: the kubelet runs what it deploys', () => {
  fidelity('gives two pods of one Deployment their own pod IPs on the same containerPort', 'kubectl get pods -o wide; https://kubernetes.io/docs/concepts/services-networking/#the-kubernetes-network-model', async (c) => {
    const ns = c.namespace();
    const pods = await deploy(c, ns, [workload({ image: image(c.f), replicas: 2 })], 2);
    const ips = pods.map((p) => p.status.podIP as string);
    assert.equal(new Set(ips).size, 2, 'each pod has an address of its own');
    for (const ip of ips) assert.match(ip, /^127\./, 'a loopback address');
    const wide = await c.kubectl('get', 'pods', '-n', ns, '-o', 'wide');
    assert.match(wide, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/m);
    for (const ip of ips) {
      assert.ok(wide.includes(ip), `kubectl -o wide shows ${ip}`);
      const answer = JSON.parse((await get(`http://${ip}:8080/api/who`)).body);
      assert.ok(pods.some((p) => p.metadata.name === answer.pod), 'the process on that address is that pod (HOSTNAME)');
    }
  });

  fidelity('lists a Service\'s EndpointSlice with its ready pods', 'kubectl get endpointslices; https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/', async (c) => {
    const ns = c.namespace();
    const pods = await deploy(c, ns, [workload({ image: image(c.f), replicas: 2 }), service('web')], 2);
    const out = await until('an EndpointSlice with both pods', async () => {
      const text = await c.kubectl('get', 'endpointslices', '-n', ns);
      return pods.every((p) => text.includes(p.status.podIP)) ? text : undefined;
    });
    assert.match(out, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$/m);
    assert.match(out, /^web-\w{5}\s+IPv4\s+8080\s+/m);
    const slice = JSON.parse(await c.kubectl('get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=web', '-o', 'json')).items[0];
    assert.equal(slice.endpoints.length, 2);
    assert.ok(slice.endpoints.every((e: Any) => e.conditions.ready === true && e.targetRef.kind === 'Pod'));
  });

  fidelity('serves a container\'s output as its log, and the previous one after a restart', 'kubectl logs --previous; https://kubernetes.io/docs/reference/kubectl/generated/kubectl_logs/', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', writeManifest(c.f, workload({ image: image(c.f), replicas: 1, env: { EXIT_CODE: '4', EXIT_AFTER_SECONDS: '1' } })));
    const pod = await until('a restarted pod', async () => {
      const p = JSON.parse(await c.kubectl('get', 'pods', '-n', ns, '-o', 'json')).items[0];
      return p?.status.containerStatuses?.[0]?.restartCount >= 1 ? p : undefined;
    });
    const previous = await c.kubectl('logs', '-n', ns, pod.metadata.name, '--previous');
    assert.match(previous, /listening on 127\.[\d.]+:8080/);
    assert.match(previous, /exiting with code 4/);
    const current = await until('the current log', async () => {
      const text = await c.kubectl('logs', '-n', ns, pod.metadata.name);
      return /listening/.test(text) ? text : undefined;
    });
    assert.match(current, new RegExp(`\\(${pod.metadata.name}\\) listening`));
  });

  fidelity('reports a crashing image as CrashLoopBackOff with a rising restartCount and the real exit code', 'kubectl get pod -o yaml; https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', writeManifest(c.f, workload({ image: image(c.f), replicas: 1, env: { EXIT_CODE: '3' } })));
    const status = await until('CrashLoopBackOff', async () => {
      const p = parse(await c.kubectl('get', 'pod', '-n', ns, '-o', 'yaml')).items[0];
      const cs = p?.status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === 'CrashLoopBackOff' ? cs : undefined;
    });
    assert.equal(status.lastState.terminated.exitCode, 3);
    assert.equal(status.lastState.terminated.reason, 'Error');
    assert.ok(status.restartCount >= 1);
    assert.match(status.state.waiting.message, /^back-off \d+s restarting failed container=web pod=web-/);
    const table = await c.kubectl('get', 'pods', '-n', ns);
    assert.match(table, /CrashLoopBackOff/);
  });

  fidelity('keeps a pod whose readiness probe fails out of the EndpointSlice', 'https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/#readiness-probe', async (c) => {
    const ns = c.namespace();
    const healthy = workload({ image: image(c.f), name: 'web', replicas: 1, readinessProbe: true });
    const sick = workload({ image: image(c.f), name: 'sick', replicas: 1, readinessProbe: true, env: { UNHEALTHY: 'true' } }).replace('app: sick } }\n  template:\n    metadata: { labels: { app: sick } }', 'app: sick } }\n  template:\n    metadata: { labels: { app: sick, tier: web } }');
    const svc = `apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  selector: { tier: web }\n  ports: [{ port: 80, targetPort: 8080 }]`;
    const labelled = healthy.replace('metadata: { labels: { app: web } }', 'metadata: { labels: { app: web, tier: web } }');
    const [good] = await deploy(c, ns, [labelled, sick, svc], 1);
    const sickPod = await until('the unready pod running', async () => {
      const p = JSON.parse(await c.kubectl('get', 'pods', '-n', ns, '-l', 'app=sick', '-o', 'json')).items[0];
      return p?.status?.containerStatuses?.[0]?.state?.running ? p : undefined;
    });
    await new Promise((r) => setTimeout(r, 2500));
    const slice = JSON.parse(await c.kubectl('get', 'endpointslices', '-n', ns, '-o', 'json')).items[0];
    const byIp = new Map(slice.endpoints.map((e: Any) => [e.addresses[0], e.conditions.ready]));
    assert.equal(byIp.get(good.status.podIP), true);
    assert.equal(byIp.get(sickPod.status.podIP), false, 'the failing pod is listed not ready');
    const pod = JSON.parse(await c.kubectl('get', 'pod', '-n', ns, sickPod.metadata.name, '-o', 'json'));
    assert.equal(pod.status.conditions.find((x: Any) => x.type === 'Ready').status, 'False');
    assert.equal(pod.status.conditions.find((x: Any) => x.type === 'ContainersReady').status, 'False');
  });

  fidelity('spreads connections to a Service\'s clusterIP over its ready pods at random', 'https://kubernetes.io/docs/reference/networking/virtual-ips/#proxy-mode-iptables', async (c) => {
    const ns = c.namespace();
    const pods = await deploy(c, ns, [workload({ image: image(c.f), replicas: 3 }), service('web')], 3);
    const svc = JSON.parse(await c.kubectl('get', 'service', '-n', ns, 'web', '-o', 'json'));
    assert.match(svc.spec.clusterIP, /^127\./);
    await until('all three endpoints', async () => {
      const slice = JSON.parse(await c.kubectl('get', 'endpointslices', '-n', ns, '-o', 'json')).items[0];
      return slice?.endpoints?.filter((e: Any) => e.conditions.ready).length === 3 ? true : undefined;
    });
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const answer = JSON.parse((await get(`http://${svc.spec.clusterIP}/api/who`)).body);
      counts.set(answer.pod, (counts.get(answer.pod) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), pods.map((p) => p.metadata.name).sort());
    for (const [pod, n] of counts) assert.ok(n >= 60 && n <= 140, `${pod} answered ${n} of 300 (near a third)`);
  });

  fidelity('ends a deleted pod\'s process', 'https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination', async (c) => {
    const ns = c.namespace();
    const [pod] = await deploy(c, ns, [workload({ image: image(c.f), replicas: 1 })], 1);
    const pid = c.f.cluster.kubelet.containers.pid(pod, 'web');
    assert.ok(pid, 'the container has a process');
    assert.ok(fs.existsSync(`/proc/${pid}`));
    await c.kubectl('delete', 'pod', '-n', ns, pod.metadata.name, '--wait=false');
    await until('the process to end', () => (fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')) ? undefined : true), 15_000);
  });

  fidelity('gives a Deployment\'s processes the Downward API, ConfigMap and Secret values in their environment', 'https://kubernetes.io/docs/tasks/inject-data-application/environment-variable-expose-pod-information/', async (c) => {
    const ns = c.namespace();
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { greeting: hello }';
    const spec = workload({ image: image(c.f), replicas: 1, extraContainer: [
      'command: [sh, -c, "echo name=$MY_NAME ns=$MY_NS ip=$MY_IP greeting=$GREETING pod_ip=$POD_IP host=$HOSTNAME; exec node server.js"]',
      'env:', '- { name: MY_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }', '- { name: MY_NS, valueFrom: { fieldRef: { fieldPath: metadata.namespace } } }',
      '- { name: MY_IP, valueFrom: { fieldRef: { fieldPath: status.podIP } } }', '- { name: GREETING, valueFrom: { configMapKeyRef: { name: settings, key: greeting } } }',
    ].join('\n') });
    const [pod] = await deploy(c, ns, [cm, spec], 1);
    const log = await until('the echoed environment', async () => {
      const text = await c.kubectl('logs', '-n', ns, pod.metadata.name);
      return /name=/.test(text) ? text : undefined;
    });
    const n = pod.metadata.name;
    assert.ok(log.includes(`name=${n} ns=${ns} ip=${pod.status.podIP} greeting=hello pod_ip=${pod.status.podIP} host=${n}`), log);
  });

  fidelity('leaves a pod whose request no node can hold Unschedulable', 'https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/', async (c) => {
    const ns = c.namespace();
    const spec = workload({ image: image(c.f), replicas: 1, extraContainer: 'resources: { requests: { memory: 64Gi } }' });
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', writeManifest(c.f, spec));
    const cond = await until('PodScheduled False', async () => {
      const p = JSON.parse(await c.kubectl('get', 'pods', '-n', ns, '-o', 'json')).items[0];
      return p?.status?.conditions?.find((x: Any) => x.type === 'PodScheduled' && x.status === 'False');
    });
    assert.equal(cond.reason, 'Unschedulable');
    assert.match(cond.message, /^0\/2 nodes are available: 2 Insufficient memory\./);
  });

  fidelity('keeps a pod with a missing ConfigMap volume in ContainerCreating with a FailedMount event', 'https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-object', async (c) => {
    const ns = c.namespace();
    const spec = workload({ image: image(c.f), replicas: 1 }).replace('    spec:\n      containers:', '    spec:\n      volumes: [{ name: cfg, configMap: { name: absent } }]\n      containers:');
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', writeManifest(c.f, spec));
    await until('a FailedMount event', async () => {
      const events = await c.kubectl('get', 'events', '-n', ns);
      return /FailedMount.*configmap "absent" not found/.test(events) ? true : undefined;
    });
    const p = JSON.parse(await c.kubectl('get', 'pods', '-n', ns, '-o', 'json')).items[0];
    assert.equal(p.status.containerStatuses[0].state.waiting.reason, 'ContainerCreating');
  });
});
