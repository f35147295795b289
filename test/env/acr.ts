import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ArmError, type ArmCaller, type ArmEmulator } from './arm';
import { skopeoCertDir } from './ca';
import type { EntraEmulator, EntraIdentity } from './entra';
import type { Exchange } from './http';
import type { Registry, ScopeItem } from './registry';

const execFileAsync = promisify(execFile);

/** Data-plane actions of ACR's built-in roles, as ARM role assignments grant them. */
const ACTION_FOR: Record<string, string> = {
  pull: 'Microsoft.ContainerRegistry/registries/pull/read',
  push: 'Microsoft.ContainerRegistry/registries/push/write',
  delete: 'Microsoft.ContainerRegistry/registries/artifacts/delete',
  metadata_read: 'Microsoft.ContainerRegistry/registries/pull/read',
  metadata_write: 'Microsoft.ContainerRegistry/registries/push/write',
};

/**
 * What ACR adds to a registry for Microsoft Entra ID: `POST /oauth2/exchange` (an Entra access token for ARM or
 * ACR becomes an ACR refresh token) and the refresh-token grant of `/oauth2/token`, which grants the actions the
 * identity's role assignments on the registry allow.
 */
export function addAcrAuthentication(registry: Registry, entra: EntraEmulator, arm: ArmEmulator, resourceId: string): void {
  const refreshTokens = new Map<string, EntraIdentity>();
  registry.router.add('POST', '/oauth2/exchange', async (x: Exchange) => {
    const form = await x.form();
    if (form.get('grant_type') !== 'access_token') {
      return x.sendJson(400, { errors: [{ code: 'UNSUPPORTED', message: `unsupported grant_type '${form.get('grant_type')}'` }] });
    }
    if (form.get('service') !== registry.loginServer) {
      return x.sendJson(400, { errors: [{ code: 'INVALID', message: `service must be ${registry.loginServer}` }] });
    }
    const verdict = entra.verifyAccessToken(form.get('access_token') ?? undefined, [arm.url, 'https://management.azure.com/', 'https://containerregistry.azure.net/']);
    if ('error' in verdict) return x.sendJson(401, { errors: [{ code: 'UNAUTHORIZED', message: verdict.error }] });
    const identity = entra.identityOf(verdict.claims);
    if (!identity) return x.sendJson(401, { errors: [{ code: 'UNAUTHORIZED', message: 'unknown identity' }] });
    const refresh = randomBytes(32).toString('base64url');
    refreshTokens.set(refresh, identity);
    registry.servedTokens.push(refresh);
    x.sendJson(200, { refresh_token: refresh });
  });
  registry.extraGrant = async (x, scopes) => {
    const form = x.method === 'POST' ? await x.form() : undefined;
    const identity = form?.get('grant_type') === 'refresh_token' ? refreshTokens.get(form.get('refresh_token') ?? '') : undefined;
    if (!identity) return undefined;
    const granted: ScopeItem[] = scopes.map((s) => ({
      ...s,
      actions: s.actions.filter((a) => {
        const action = ACTION_FOR[a];
        if (!action) return false;
        try {
          arm.authorize({ identity }, resourceId, action);
          return true;
        } catch {
          return false;
        }
      }),
    }));
    return { subject: identity.clientId, granted };
  };
}

// ---- ACR's data-plane additions: lock attributes under /acr/v1/ and, when switched on, the OCI referrers API.

interface ChangeableAttributes {
  deleteEnabled: boolean;
  writeEnabled: boolean;
  readEnabled: boolean;
  listEnabled: boolean;
}

const DEFAULT_ATTRIBUTES: ChangeableAttributes = { deleteEnabled: true, writeEnabled: true, readEnabled: true, listEnabled: true };
const DISALLOWED = { errors: [{ code: 'DENIED', message: 'The operation is disallowed on this registry, repository or image.' }] };
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** What a test can see and change of one registry's ACR data plane. */
export class AcrDataPlane {
  /** Serve `GET /v2/<name>/referrers/<digest>` (ACR does); off, the registry answers 404 there as distribution 2.8.2 does. */
  referrersApi = false;
  /** Attributes by `repo:tag` and `repo@digest`. */
  readonly tagAttributes = new Map<string, ChangeableAttributes>();
  readonly manifestAttributes = new Map<string, ChangeableAttributes>();
  /** Referrers indexed from manifest PUTs that carry a subject: repo → subject digest → descriptors. */
  readonly referrers = new Map<string, Map<string, Map<string, Record<string, unknown>>>>();

  constructor(readonly registry: Registry) {}

  /** Clears the locks (tests undo what they changed; docker-registry keeps the content). */
  reset(): void {
    this.tagAttributes.clear();
    this.manifestAttributes.clear();
    this.referrersApi = false;
  }
}

function acrScopeAllows(registry: Registry, x: Exchange, repository: string, action: string): boolean {
  const access = registry.verifyToken(x.bearerToken());
  return !!access?.some((a) => a.type === 'repository' && a.name === repository && (a.actions.includes(action) || a.actions.includes('*')));
}

function challenge(registry: Registry, x: Exchange, repository: string, action: string): void {
  x.sendJson(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: [{ Type: 'repository', Name: repository, Action: action }] }] },
    { 'www-authenticate': `Bearer realm="${registry.url}/oauth2/token",service="${registry.loginServer}",scope="repository:${repository}:${action}"` });
}

async function backendDigest(registry: Registry, repository: string, reference: string): Promise<string | undefined> {
  const res = await fetch(`${registry.backendUrl}/v2/${repository}/manifests/${reference}`, {
    method: 'HEAD', headers: { accept: `${OCI_INDEX}, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json`, authorization: `Bearer ${registry.issueToken('acr-data-plane', [{ type: 'repository', name: repository, actions: ['pull'] }])}` },
  });
  return res.ok ? res.headers.get('docker-content-digest') ?? undefined : undefined;
}

/**
 * Adds ACR's lock attributes to a registry front (`GET`/`PATCH /acr/v1/{name}/_tags/{tag}` and
 * `/_manifests/{digest}`, scope `metadata_read` / `metadata_write`), enforced on the distribution API: a tag whose
 * writeEnabled is false cannot be moved or deleted, a manifest cannot be deleted while locked. Manifest PUTs that
 * carry a `subject` are indexed for the referrers API, which is served when `referrersApi` is on.
 */
export function addAcrDataPlane(registry: Registry): AcrDataPlane {
  const plane = new AcrDataPlane(registry);
  const attributesRoute = (kind: '_tags' | '_manifests') => async (x: Exchange) => {
    const repository = x.params.name;
    const reference = x.params.reference;
    const action = x.method === 'PATCH' ? 'metadata_write' : 'metadata_read';
    if (!acrScopeAllows(registry, x, repository, action)) return challenge(registry, x, repository, action);
    const digest = await backendDigest(registry, repository, reference);
    if (!digest || (kind === '_manifests' && digest !== reference)) {
      return x.sendJson(404, { errors: [{ code: kind === '_tags' ? 'TAG_UNKNOWN' : 'MANIFEST_UNKNOWN', message: `${kind === '_tags' ? 'tag' : 'manifest'} ${reference} is not found in ${repository}` }] });
    }
    const map = kind === '_tags' ? plane.tagAttributes : plane.manifestAttributes;
    const key = kind === '_tags' ? `${repository}:${reference}` : `${repository}@${reference}`;
    const current = { ...(map.get(key) ?? DEFAULT_ATTRIBUTES) };
    if (x.method === 'PATCH') {
      const body = await x.json<Partial<ChangeableAttributes>>().catch(() => undefined);
      if (!body || typeof body !== 'object') return x.sendJson(400, { errors: [{ code: 'INVALID', message: 'the body must be a JSON object of changeable attributes' }] });
      for (const k of Object.keys(DEFAULT_ATTRIBUTES) as (keyof ChangeableAttributes)[]) {
        if (body[k] !== undefined) {
          if (typeof body[k] !== 'boolean') return x.sendJson(400, { errors: [{ code: 'INVALID', message: `${k} must be a boolean` }] });
          current[k] = body[k]!;
        }
      }
      map.set(key, current);
    }
    const item = { name: reference, digest, changeableAttributes: current };
    x.sendJson(200, kind === '_tags'
      ? { registry: registry.loginServer, imageName: repository, tag: item }
      : { registry: registry.loginServer, imageName: repository, manifest: { digest, changeableAttributes: current } });
  };
  for (const method of ['GET', 'PATCH']) {
    registry.router.add(method, '/acr/v1/:name/_tags/:reference', attributesRoute('_tags'));
    registry.router.add(method, '/acr/v1/:name/_manifests/:reference', attributesRoute('_manifests'));
  }

  // Manifest writes and deletes: locks first, then the registry; subjects indexed after a successful PUT.
  registry.router.add('PUT', '/v2/*name/manifests/:reference', async (x) => {
    const { name: repository, reference } = x.params;
    const body = await x.body();
    if (!reference.includes(':') && plane.tagAttributes.get(`${repository}:${reference}`)?.writeEnabled === false) {
      const current = await backendDigest(registry, repository, reference);
      const incoming = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      if (current && current !== incoming) return x.sendJson(405, DISALLOWED);
    }
    let subject: string | undefined;
    let descriptor: Record<string, unknown> | undefined;
    try {
      const manifest = JSON.parse(body.toString('utf8')) as { mediaType?: string; artifactType?: string; config?: { mediaType?: string }; subject?: { digest?: string }; annotations?: Record<string, string> };
      if (manifest.subject?.digest) {
        subject = manifest.subject.digest;
        descriptor = {
          mediaType: manifest.mediaType ?? x.header('content-type'), digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, size: body.length,
          ...(manifest.artifactType ?? manifest.config?.mediaType ? { artifactType: manifest.artifactType ?? manifest.config?.mediaType } : {}),
          ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
        };
      }
    } catch {
      // Not JSON: the registry itself answers with MANIFEST_INVALID.
    }
    await registry.forward(x, {
      body,
      extraHeaders: (status): Record<string, string> => {
        if (status !== 201 || !subject || !descriptor) return {};
        const byRepo = plane.referrers.get(repository) ?? new Map<string, Map<string, Record<string, unknown>>>();
        plane.referrers.set(repository, byRepo);
        const bySubject = byRepo.get(subject) ?? new Map<string, Record<string, unknown>>();
        byRepo.set(subject, bySubject);
        bySubject.set(descriptor.digest as string, descriptor);
        return plane.referrersApi ? { 'oci-subject': subject } : {};
      },
    });
  });
  registry.router.add('DELETE', '/v2/*name/manifests/:reference', async (x) => {
    const { name: repository, reference } = x.params;
    const attrs = reference.includes(':') ? plane.manifestAttributes.get(`${repository}@${reference}`) : plane.tagAttributes.get(`${repository}:${reference}`);
    if (attrs && (!attrs.deleteEnabled || !attrs.writeEnabled)) return x.sendJson(405, DISALLOWED);
    return registry.forward(x);
  });
  registry.router.add('GET', '/v2/*name/referrers/:digest', async (x) => {
    if (!plane.referrersApi) return registry.forward(x);
    const { name: repository, digest: subject } = x.params;
    if (!acrScopeAllows(registry, x, repository, 'pull')) return challenge(registry, x, repository, 'pull');
    if (!/^sha256:[a-f0-9]{64}$/.test(subject)) return x.sendJson(400, { errors: [{ code: 'DIGEST_INVALID', message: 'invalid digest' }] });
    let manifests = [...(plane.referrers.get(repository)?.get(subject)?.values() ?? [])];
    const artifactType = x.query('artifactType');
    if (artifactType) manifests = manifests.filter((d) => d.artifactType === artifactType);
    x.send(200, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), {
      'content-type': OCI_INDEX, ...(artifactType ? { 'oci-filters-applied': 'artifactType' } : {}),
    });
  });
  return plane;
}

// ---- ARM: Microsoft.ContainerRegistry/registries lookups and importImage as a long-running operation.

export interface AcrResource {
  registry: Registry;
  resourceId: string;
  resourceGroup: string;
  name: string;
}

const ACR_API_VERSIONS = ['2019-05-01', '2021-09-01', '2022-12-01', '2023-07-01', '2025-04-01', '2025-11-01'];
const REGISTRY_READ = 'Microsoft.ContainerRegistry/registries/read';
const IMPORT_ACTION = 'Microsoft.ContainerRegistry/registries/importImage/action';
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
const REPOSITORY_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Import operations the emulator ran, for tests that check what ARM was asked to do. */
export interface ImportRecord {
  target: string;
  body: ImportBody;
  operationId: string;
  outcome?: 'succeeded' | 'failed';
}

interface ImportBody {
  source?: { resourceId?: string; registryUri?: string; sourceImage?: string; credentials?: { username?: string; password?: string } };
  targetTags?: string[];
  untaggedTargetRepositories?: string[];
  mode?: string;
}

/**
 * The ACR resource provider of the ARM emulator: registry GET and lists (loginServer = the front's
 * `127.0.0.1:port`, sku Premium), and `importImage`, which really copies between the local registries (with skopeo,
 * through the fronts, so locks and faults apply) as a long-running operation, with ACR's documented failures: a
 * target tag that exists in NoForce mode, a source that does not exist, a caller without the importImage action.
 */
export function addAcrResourceProvider(arm: ArmEmulator, resources: AcrResource[], caCertPath: string, dir: string): { imports: ImportRecord[] } {
  const imports: ImportRecord[] = [];
  const certDir = skopeoCertDir(caCertPath, path.join(dir, 'acr-import-certs'));
  // docker-registry can fail two uploads of one blob into a repository at the same moment ("digest invalid",
  // "blob unknown"), as two imports of referrers sharing the empty config blob do; ACR's import does not fail
  // there. So the copies of one target registry run one after another, each with its NoForce check.
  const queues = new Map<string, Promise<unknown>>();
  const oneAtATime = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const next = (queues.get(key) ?? Promise.resolve()).then(work, work);
    queues.set(key, next.catch(() => undefined));
    return next;
  };
  const body = (r: AcrResource) => ({
    id: r.resourceId, name: r.name, type: 'Microsoft.ContainerRegistry/registries', location: arm.location,
    sku: { name: 'Premium', tier: 'Premium' },
    properties: {
      loginServer: r.registry.loginServer, creationDate: '2026-01-01T00:00:00Z', provisioningState: 'Succeeded', adminUserEnabled: false,
      publicNetworkAccess: 'Enabled', anonymousPullEnabled: false, dataEndpointEnabled: false,
      policies: { quarantinePolicy: { status: 'disabled' }, trustPolicy: { type: 'Notary', status: 'disabled' }, retentionPolicy: { days: 7, status: 'disabled' } },
    },
  });
  const canRead = (caller: ArmCaller, r: AcrResource) => {
    try {
      arm.authorize(caller, r.resourceId, REGISTRY_READ);
      return true;
    } catch {
      return false;
    }
  };
  const find = (resourceGroup: string, name: string) => resources.find((r) => r.resourceGroup.toLowerCase() === resourceGroup.toLowerCase() && r.name.toLowerCase() === name.toLowerCase());
  const notFound = (resourceGroup: string, name: string) => new ArmError(404, 'ResourceNotFound', `The Resource 'Microsoft.ContainerRegistry/registries/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);

  arm.route('GET', '/subscriptions/:subscriptionId/providers/Microsoft.ContainerRegistry/registries', ACR_API_VERSIONS, (x, caller) => {
    const visible = resources.filter((r) => canRead(caller, r));
    if (!visible.length) arm.authorize(caller, arm.subscriptionScope, REGISTRY_READ);
    x.sendJson(200, { value: visible.map(body) });
  });
  arm.route('GET', '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ContainerRegistry/registries', ACR_API_VERSIONS, (x, caller) => {
    const inGroup = resources.filter((r) => r.resourceGroup.toLowerCase() === x.params.resourceGroupName.toLowerCase());
    const visible = inGroup.filter((r) => canRead(caller, r));
    if (!visible.length) arm.authorize(caller, `${arm.subscriptionScope}/resourceGroups/${x.params.resourceGroupName}`, REGISTRY_READ);
    x.sendJson(200, { value: visible.map(body) });
  });
  arm.route('GET', '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ContainerRegistry/registries/:registryName', ACR_API_VERSIONS, (x, caller) => {
    const r = find(x.params.resourceGroupName, x.params.registryName);
    if (!r) throw notFound(x.params.resourceGroupName, x.params.registryName);
    arm.authorize(caller, r.resourceId, REGISTRY_READ);
    x.sendJson(200, body(r));
  });

  arm.route('POST', '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ContainerRegistry/registries/:registryName/importImage', ACR_API_VERSIONS, async (x, caller) => {
    const target = find(x.params.resourceGroupName, x.params.registryName);
    if (!target) throw notFound(x.params.resourceGroupName, x.params.registryName);
    arm.authorize(caller, target.resourceId, IMPORT_ACTION);
    const request = await x.json<ImportBody>().catch(() => undefined);
    const invalid = (message: string) => new ArmError(400, 'InvalidParameters', message);
    const src = request?.source;
    if (!request || !src) throw invalid("The parameter 'source' is required.");
    if (!src.sourceImage) throw invalid("The parameter 'source.sourceImage' is required.");
    if (!!src.resourceId === !!src.registryUri) throw invalid("Exactly one of 'source.resourceId' and 'source.registryUri' must be given.");
    if (src.credentials && !src.credentials.password) throw invalid("The parameter 'source.credentials.password' is required when credentials are given.");
    const mode = request.mode ?? 'NoForce';
    if (mode !== 'NoForce' && mode !== 'Force') throw invalid(`The value '${mode}' of 'mode' is not valid. Use NoForce or Force.`);
    const targetTags = request.targetTags ?? [];
    const untagged = request.untaggedTargetRepositories ?? [];
    const imageMatch = /^([a-z0-9._/-]+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(src.sourceImage);
    if (!imageMatch || !REPOSITORY_PATTERN.test(imageMatch[1])) throw invalid(`The source image '${src.sourceImage}' is not a valid image name.`);
    const [, sourceRepository, sourceTag, sourceDigest] = imageMatch;
    const destinations: { repository: string; tag?: string }[] = [];
    for (const t of targetTags) {
      const [repository, tag] = t.split(':');
      if (!REPOSITORY_PATTERN.test(repository) || (tag !== undefined && !TAG_PATTERN.test(tag))) throw invalid(`The target tag '${t}' is not valid.`);
      destinations.push({ repository, tag: tag ?? sourceTag ?? 'latest' });
    }
    for (const repository of untagged) {
      if (!REPOSITORY_PATTERN.test(repository)) throw invalid(`The target repository '${repository}' is not valid.`);
      destinations.push({ repository });
    }
    if (!destinations.length) destinations.push({ repository: sourceRepository, tag: sourceTag ?? 'latest' });

    let source: AcrResource | undefined;
    if (src.resourceId) {
      source = resources.find((r) => r.resourceId.toLowerCase() === src.resourceId!.toLowerCase());
      if (!source) throw invalid(`The source registry '${src.resourceId}' could not be found.`);
      arm.authorize(caller, source.resourceId, REGISTRY_READ);
    } else {
      source = resources.find((r) => r.registry.loginServer === src.registryUri!.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
      if (!source) throw invalid(`The source registry '${src.registryUri}' could not be reached.`);
    }

    const record: ImportRecord = { target: target.resourceId, body: { ...request, source: { ...src, ...(src.credentials ? { credentials: { username: src.credentials.username, password: '***' } } : {}) } }, operationId: '' };
    imports.push(record);
    const from = source;
    record.operationId = arm.beginOperation(x, 'Microsoft.ContainerRegistry', 'registries', async () => {
      try {
        const pullToken = from.registry.issueToken('acr-import', [{ type: 'repository', name: sourceRepository, actions: ['pull'] }]);
        const sourceRef = sourceDigest ?? sourceTag ?? 'latest';
        const resolved = await backendDigest(from.registry, sourceRepository, sourceRef);
        if (!resolved) throw invalid(`Source image ${from.registry.loginServer}/${sourceRepository}${sourceDigest ? `@${sourceDigest}` : `:${sourceRef}`} not found.`);
        if (src.registryUri) {
          // A registry given by URI is reached with the credentials in the request (or anonymously).
          const creds = src.credentials;
          const user = creds && from.registry.users.find((u) => u.username === creds.username && u.password === creds.password);
          if (!user || !user.actions.includes('pull')) {
            throw invalid(`Unauthorized. Source registry ${from.registry.loginServer}: {"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`);
          }
        }
        await oneAtATime(target.resourceId, async () => {
          if (mode === 'NoForce') {
            for (const d of destinations) {
              if (d.tag && (await backendDigest(target.registry, d.repository, d.tag))) {
                throw new ArmError(409, 'Conflict', `Tag ${d.repository}:${d.tag} already exists in the target registry ${target.name} and the import mode is NoForce. Use mode Force to overwrite it.`);
              }
            }
          }
          for (const d of destinations) {
            const pushToken = target.registry.issueToken('acr-import', [{ type: 'repository', name: d.repository, actions: ['pull', 'push'] }]);
            await execFileAsync('skopeo', ['copy', '--all', '--preserve-digests', '--retry-times', '3',
              '--src-cert-dir', certDir, '--dest-cert-dir', certDir, '--src-registry-token', pullToken, '--dest-registry-token', pushToken,
              `docker://${from.registry.loginServer}/${sourceRepository}@${resolved}`,
              `docker://${target.registry.loginServer}/${d.repository}${d.tag ? `:${d.tag}` : `@${resolved}`}`], { maxBuffer: 10 * 1024 * 1024 })
              .catch((err: { stderr?: string; message: string }) => {
                const detail = (err.stderr ?? err.message).trim().split('\n').pop() ?? '';
                throw /disallowed/i.test(detail)
                  ? new ArmError(409, 'Conflict', `The target ${d.repository}${d.tag ? `:${d.tag}` : ''} in ${target.name} is locked (write disabled).`)
                  : new ArmError(500, 'InternalServerError', `Error copying blobs: ${detail}`);
              });
          }
        });
        record.outcome = 'succeeded';
      } catch (err) {
        record.outcome = 'failed';
        throw err;
      }
    });
  });
  return { imports };
}
