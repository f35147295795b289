import { UserError } from '../../common/errors';
import { formatDuration } from '../../common/log';
import { sleep } from '../../common/retry';
import type { KObj } from '../kubeClient';
import type { Strategy } from '../options';
import type { DeployResult, ObjectReport, Planned } from '../run';
import { HTTP_ROUTE_VERSION, gatewayReport, readRoute, routeTo } from '../traffic/gatewayApi';
import type { TrafficSplitReport } from '../traffic/split';
import { createMissingSupport, deploymentsOf, reportOf, servicesOf, waitFor, type StrategyContext } from './context';
import { COLOUR_LABEL, MADE_FOR_LABEL, deploymentCopy, otherColour, selects, serviceCopy, type Colour } from './labels';
import { ClusterObjects } from './objects';

type BlueGreen = Extract<Strategy, { name: 'blueGreen' }>;

export const colourName = (name: string, colour: Colour) => `${name}-${colour}`;
export const previewName = (service: string) => `${service}-preview`;
const coloured = (colour: Colour) => ({ [COLOUR_LABEL]: colour });

const asColour = (value: unknown): Colour | undefined => (value === 'blue' || value === 'green' ? value : undefined);

interface App {
  deployments: Planned[];
  /** The app's Service in the manifests: the live one, whose selector promote switches. */
  service: KObj;
  namespace: string;
}

/** Blue-green: the new version comes up in the colour that is not live, behind a preview Service; promote switches. */
export async function runBlueGreen(ctx: StrategyContext, strategy: BlueGreen): Promise<DeployResult> {
  const { planned, images, discovery } = await ctx.plan();
  const objects = new ClusterObjects(ctx.client, discovery);
  const deployments = deploymentsOf(planned, 'blueGreen');
  const service = servicesOf(planned, deployments[0].obj, selects)[0];
  if (!service) throw new UserError(`Input 'strategy': blueGreen switches the app's Service between colours, and the manifests hold no Service that selects the pods of ${deployments[0].obj.metadata.name}. Add it to the manifests.`);
  const app: App = { deployments, service, namespace: deployments[0].obj.metadata.namespace! };
  let live = await liveColour(objects, strategy, app);
  const preview = await objects.get('v1', 'Service', app.namespace, previewName(service.metadata.name));
  const previewColour = asColour(preview?.spec?.selector?.[COLOUR_LABEL]);
  const pending = previewColour && previewColour !== live ? previewColour : undefined;
  const base = { images: [...images], dryRun: false, cluster: ctx.cluster, rollouts: [] };

  if (strategy.action === 'deploy') {
    if (strategy.traffic === 'gatewayApi') await readRoute(objects, strategy.httpRoute!, app.namespace, colourServices(app));
    if (!live && strategy.traffic === 'replicas') live = await colourTheLiveVersion(ctx, objects, app);
    const colour = live ? otherColour(live) : 'blue';
    ctx.log.info(live ? `Live colour: ${live}; the new version comes up as ${colour}.` : `No live colour yet (a first deployment of ${app.service.metadata.name}): the new version comes up as ${colour}, and promote makes it live.`);
    const reports = await createMissingSupport(ctx, objects, planned, new Set(['Deployment', 'Service', 'HTTPRoute', 'HorizontalPodAutoscaler']));
    const workloads = deployments.map((d) => deploymentCopy(d.obj, colourName(d.obj.metadata.name, colour), coloured(colour), undefined, d.obj.metadata.name));
    const services = [serviceCopy(service, previewName(service.metadata.name), coloured(colour), service.metadata.name)];
    if (strategy.traffic === 'gatewayApi') services.push(serviceCopy(service, colourName(service.metadata.name, colour), coloured(colour), service.metadata.name));
    const applied: KObj[] = [];
    for (const obj of [...workloads, ...services]) {
      const outcome = await objects.apply(obj);
      ctx.log.info(`${obj.kind} ${obj.metadata.name} ${outcome.action} (${colour})`);
      reports.push(reportOf(obj, outcome.action, colour));
      if (obj.kind === 'Deployment') applied.push({ ...outcome.live, apiVersion: obj.apiVersion, kind: obj.kind });
    }
    const rollouts = await waitFor(ctx, applied);
    const failed = rollouts.find((r) => r.status !== 'ready');
    const traffic = serviceReport(app, live, `preview ${previewName(service.metadata.name)} → ${colour}`);
    const result = { ...base, rollouts, objects: reports, strategy: { activeColour: live ?? '', traffic } };
    if (failed) return { ...result, ok: false, reason: `${failed.message} Reject to remove the ${colour} version (the live version was not changed).` };
    return { ...result, ok: true, reason: `${colour} is up behind Service ${previewName(service.metadata.name)}; ${live ? `${live} stays live` : 'nothing is live yet'}. Judge the preview, then promote or reject.` };
  }

  if (strategy.action === 'reject') {
    if (!pending) return { ...base, ok: true, reason: `Nothing to reject: no preview colour of ${service.metadata.name} is waiting${live ? ` (${live} is live)` : ''}.`, objects: [], strategy: { activeColour: live ?? '' } };
    const reports = await removeColour(ctx, objects, app, pending, true);
    return { ...base, ok: true, reason: `Rejected ${pending}: removed; ${live ? `${live} stays live` : 'nothing is live'}.`, objects: reports, strategy: { activeColour: live ?? '', traffic: serviceReport(app, live) } };
  }

  if (!pending) {
    throw new UserError(`Action 'promote': no preview colour of ${service.metadata.name} is waiting${live ? ` (${live} is live already)` : ''}, so there is nothing to promote. Run action deploy first.`);
  }
  // Switch only once every pod of the new colour is ready.
  const workloads = await Promise.all(deployments.map((d) => objects.get('apps/v1', 'Deployment', app.namespace, colourName(d.obj.metadata.name, pending))));
  const absent = deployments.filter((_, i) => !workloads[i]);
  if (absent.length) throw new UserError(`Action 'promote': Deployment ${colourName(absent[0].obj.metadata.name, pending)} is missing; run action deploy again to bring the ${pending} version up.`);
  const rollouts = await waitFor(ctx, workloads as KObj[]);
  const failed = rollouts.find((r) => r.status !== 'ready');
  if (failed) return { ...base, rollouts, ok: false, objects: [], reason: `${failed.message} Traffic was not switched: ${live ?? 'nothing'} stays live.`, strategy: { activeColour: live ?? '' } };

  const reports: ObjectReport[] = [];
  for (const p of planned.filter((x) => !['Deployment', 'Service', 'HTTPRoute'].includes(x.obj.kind))) {
    const outcome = await objects.apply(p.obj);
    reports.push(reportOf(p.obj, outcome.action));
  }
  const liveService = { ...service, metadata: { ...service.metadata }, spec: { ...service.spec, selector: { ...service.spec?.selector, ...coloured(pending) } } };
  if (strategy.traffic === 'gatewayApi') {
    const route = await readRoute(objects, strategy.httpRoute!, app.namespace, colourServices(app));
    await routeTo(objects, route, colourServices(app), { [colourName(service.metadata.name, pending)]: 1 });
    reports.push(reportOf(route, 'configured', `all requests to ${colourName(service.metadata.name, pending)}`));
  }
  const outcome = await objects.apply(liveService);
  ctx.log.info(`Service ${service.metadata.name} now selects ${pending}${live ? ` (was ${live})` : ''}`);
  reports.push(reportOf(liveService, outcome.action, `selects ${pending}`));

  const old = live ?? 'unlabelled';
  if (strategy.scaleDownDelaySeconds > 0) {
    ctx.log.info(`Keeping the ${old} version for scaleDownDelaySeconds (${formatDuration(strategy.scaleDownDelaySeconds * 1000)}), while kube-proxy and load balancers follow the switch`);
    await sleep(strategy.scaleDownDelaySeconds * 1000);
  }
  if (live) reports.push(...await removeColour(ctx, objects, app, live, false));
  reports.push(...await removeUncoloured(ctx, objects, app));
  return {
    ...base, rollouts, ok: true, objects: reports,
    reason: `Promoted ${pending}: Service ${service.metadata.name} sends all traffic to it${live ? `; ${live} removed after ${strategy.scaleDownDelaySeconds} s` : ''}.`,
    strategy: { activeColour: pending, traffic: serviceReport(app, pending) },
  };
}

const colourServices = (app: App) => [app.service.metadata.name, colourName(app.service.metadata.name, 'blue'), colourName(app.service.metadata.name, 'green')];

/** The colour the live Service (or, with gatewayApi, the HTTPRoute) sends traffic to; undefined before the first promote. */
async function liveColour(objects: ClusterObjects, strategy: BlueGreen, app: App): Promise<Colour | undefined> {
  const live = await objects.get('v1', 'Service', app.namespace, app.service.metadata.name);
  const colour = asColour(live?.spec?.selector?.[COLOUR_LABEL]);
  if (colour || strategy.traffic !== 'gatewayApi') return colour;
  const route = await objects.get(HTTP_ROUTE_VERSION, 'HTTPRoute', app.namespace, strategy.httpRoute!);
  const names: string[] = (route?.spec?.rules ?? []).flatMap((r: { backendRefs?: { name: string }[] }) => (r.backendRefs ?? []).map((b) => b.name));
  return (['blue', 'green'] as const).find((c) => names.includes(colourName(app.service.metadata.name, c)));
}

/** Removes one colour's Deployments (and, for a rejected preview, its preview and colour Services). */
async function removeColour(ctx: StrategyContext, objects: ClusterObjects, app: App, colour: Colour, withPreview: boolean): Promise<ObjectReport[]> {
  const reports: ObjectReport[] = [];
  const targets = app.deployments.map((d) => ({ apiVersion: 'apps/v1', kind: 'Deployment', name: colourName(d.obj.metadata.name, colour) }));
  const service = app.service.metadata.name;
  if (withPreview) targets.push({ apiVersion: 'v1', kind: 'Service', name: previewName(service) }, { apiVersion: 'v1', kind: 'Service', name: colourName(service, colour) });
  for (const t of targets) {
    const live = await objects.get(t.apiVersion, t.kind, app.namespace, t.name);
    if (!live?.metadata.labels?.[MADE_FOR_LABEL]) continue;
    await objects.remove(t.apiVersion, t.kind, app.namespace, t.name);
    ctx.log.info(`${t.kind} ${t.name} removed`);
    reports.push({ kind: t.kind, apiVersion: t.apiVersion, namespace: app.namespace, name: t.name, action: 'pruned', note: `${colour} removed` });
  }
  return reports;
}

/**
 * A live Service without a colour (the app ran under a rolling deployment) would select the new colour's pods too,
 * since they carry its labels. So the running version becomes green first: its pods get the colour label (one
 * rolling restart, no downtime), then the Service selects green, and the new version can come up as blue apart.
 */
async function colourTheLiveVersion(ctx: StrategyContext, objects: ClusterObjects, app: App): Promise<Colour | undefined> {
  const liveService = await objects.get('v1', 'Service', app.namespace, app.service.metadata.name);
  const running = (await Promise.all(app.deployments.map((d) => objects.get('apps/v1', 'Deployment', app.namespace, d.obj.metadata.name)))).filter((d): d is KObj => !!d);
  if (!liveService || running.length === 0) return undefined;
  ctx.log.info(`Service ${app.service.metadata.name} selects the running version without a colour; it becomes green first (its pods get ${COLOUR_LABEL}=green, one rolling restart), so that the new version can come up apart from it.`);
  const patched: KObj[] = [];
  for (const d of running) patched.push(await objects.merge(d, { spec: { template: { metadata: { labels: coloured('green') } } } }));
  const rolled = await waitFor(ctx, patched);
  const failed = rolled.find((r) => r.status !== 'ready');
  if (failed) throw new UserError(`The running version could not be given its colour: ${failed.message}`);
  await objects.merge(liveService, { spec: { selector: coloured('green') } });
  return 'green';
}

/** After the first promote, the Deployments a rolling deployment made (plain names) no longer get traffic. */
async function removeUncoloured(ctx: StrategyContext, objects: ClusterObjects, app: App): Promise<ObjectReport[]> {
  const reports: ObjectReport[] = [];
  for (const d of app.deployments) {
    const live = await objects.get('apps/v1', 'Deployment', app.namespace, d.obj.metadata.name);
    if (!live || live.metadata.labels?.[COLOUR_LABEL]) continue;
    await objects.remove('apps/v1', 'Deployment', app.namespace, d.obj.metadata.name);
    ctx.log.info(`Deployment ${d.obj.metadata.name} removed: the coloured Deployments replace it`);
    reports.push({ kind: 'Deployment', apiVersion: 'apps/v1', namespace: app.namespace, name: d.obj.metadata.name, action: 'pruned', note: 'replaced by a colour' });
  }
  return reports;
}

function serviceReport(app: App, live: Colour | undefined, extra?: string): TrafficSplitReport {
  const service = app.service.metadata.name;
  if (!live) return { method: 'service', words: `nothing is live yet${extra ? `; ${extra}` : ''}`, rows: [] };
  const report = gatewayReport(service, [{ backend: colourName(app.deployments[0].obj.metadata.name, live), pods: app.deployments[0].obj.spec?.replicas ?? 1, weight: 1 }]);
  return { method: 'service', words: `Service ${service} sends all traffic to ${live}${extra ? `; ${extra}` : ''}`, rows: report.rows };
}
