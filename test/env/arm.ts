import { randomUUID } from 'node:crypto';
import type { EntraEmulator, EntraIdentity } from './entra';
import { Exchange, Router, startHttpsServer, type RunningServer, type TlsMaterial } from './http';

/** An error in ARM's envelope: `{"error":{"code","message"}}`. */
export class ArmError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** The caller of an ARM request, once its token is verified. */
export interface ArmCaller {
  identity: EntraIdentity;
}

export type ArmHandler = (x: Exchange, caller: ArmCaller) => Promise<void> | void;

export const ROLES: Record<string, string[]> = {
  Owner: ['*'],
  Contributor: ['*'],
  Reader: ['*/read'],
  'Security Reader': ['*/read', 'Microsoft.Security/*/read'],
  AcrPull: ['Microsoft.ContainerRegistry/registries/pull/read'],
  AcrPush: ['Microsoft.ContainerRegistry/registries/pull/read', 'Microsoft.ContainerRegistry/registries/push/write'],
  'Azure Kubernetes Service Cluster User Role': [
    'Microsoft.ContainerService/managedClusters/read',
    'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
  ],
  'Azure Kubernetes Service Cluster Admin Role': [
    'Microsoft.ContainerService/managedClusters/read',
    'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
    'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action',
  ],
};

interface RoleAssignment {
  clientId: string;
  scope: string;
  role: string;
}

interface Operation {
  id: string;
  provider: string;
  state: 'running' | 'succeeded' | 'failed';
  error?: ArmError;
}

/**
 * The Azure Resource Manager emulator framework: routing by path and api-version, bearer tokens from the Entra
 * emulator, role assignments checked per action and scope, the ARM error envelope, and long-running operations
 * answered with 202, Location and Retry-After. Task issues add their resource providers with `route`.
 */
export class ArmEmulator {
  readonly subscriptionId = randomUUID();
  readonly location = 'westeurope';
  readonly resourceGroups = new Set<string>();
  /** Seconds sent as Retry-After on 202s; clients wait at least this between polls. */
  retryAfterSeconds = 1;
  private readonly router = new Router();
  private readonly assignments: RoleAssignment[] = [];
  private readonly operations = new Map<string, Operation>();
  private server?: RunningServer;

  private constructor(private readonly entra: EntraEmulator) {}

  static async start(tls: TlsMaterial, entra: EntraEmulator): Promise<ArmEmulator> {
    const arm = new ArmEmulator(entra);
    arm.addCoreRoutes();
    arm.server = await startHttpsServer('arm', tls, (x) => arm.handle(x));
    return arm;
  }

  /** The ARM URL, with its trailing slash as service connections hold it. */
  get url(): string {
    return `${this.server!.url}/`;
  }
  get faults() {
    return this.server!.faults;
  }
  get subscriptionScope(): string {
    return `/subscriptions/${this.subscriptionId}`;
  }

  /**
   * Adds a route. `path` uses `:name` segments; a `:subscriptionId` segment must name the emulated subscription.
   * Requests with another api-version are refused as ARM refuses them.
   */
  route(method: string, path: string, apiVersions: string[], handler: ArmHandler): void {
    this.router.add(method, path, async (x) => {
      const apiVersion = x.query('api-version');
      if (!apiVersion) throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
      if (!apiVersions.includes(apiVersion)) {
        throw new ArmError(400, 'NoRegisteredProviderFound', `No registered resource provider found for location '${this.location}' and API version '${apiVersion}' for this resource type. The supported api-versions are '${apiVersions.join(', ')}'.`);
      }
      const caller = this.authenticate(x);
      if (x.params.subscriptionId !== undefined && x.params.subscriptionId.toLowerCase() !== this.subscriptionId) {
        throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${x.params.subscriptionId}' could not be found.`);
      }
      if (x.params.resourceGroupName !== undefined && !this.hasResourceGroup(x.params.resourceGroupName)) {
        throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${x.params.resourceGroupName}' could not be found.`);
      }
      await handler(x, caller);
    });
  }

  hasResourceGroup(name: string): boolean {
    return [...this.resourceGroups].some((g) => g.toLowerCase() === name.toLowerCase());
  }

  assignRole(identity: EntraIdentity, scope: string, role: keyof typeof ROLES | string): void {
    if (!ROLES[role]) throw new Error(`unknown role ${role}`);
    this.assignments.push({ clientId: identity.clientId, scope, role });
  }

  /** Throws ARM's AuthorizationFailed unless a role assignment at or above `scope` allows `action`. */
  authorize(caller: ArmCaller, scope: string, action: string): void {
    const allowed = this.assignments.some((a) => a.clientId === caller.identity.clientId && isWithin(scope, a.scope) && ROLES[a.role].some((p) => matches(p, action)));
    if (!allowed) {
      throw new ArmError(403, 'AuthorizationFailed', `The client '${caller.identity.clientId}' with object id '${caller.identity.objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`);
    }
  }

  /**
   * Starts a long-running operation: answers 202 with Location and Retry-After at once, runs `work` in the
   * background, and serves its state at the Location until it is done (202 while running, then 200 with
   * `{"status":"Succeeded"}` or the ARM error that `work` threw).
   */
  beginOperation(x: Exchange, provider: string, prefix: string, work: () => Promise<void>): string {
    const id = `${prefix}-${randomUUID()}`;
    const op: Operation = { id, provider, state: 'running' };
    this.operations.set(id, op);
    work().then(() => { op.state = 'succeeded'; }, (err: unknown) => {
      op.state = 'failed';
      op.error = err instanceof ArmError ? err : new ArmError(500, 'InternalServerError', (err as Error).message);
    });
    const location = `${x.baseUrl}/subscriptions/${this.subscriptionId}/providers/${provider}/locations/${this.location.toUpperCase()}/operationResults/${id}`;
    x.send(202, 'null', { location, 'retry-after': String(this.retryAfterSeconds), 'content-type': 'application/json' });
    return id;
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }

  private authenticate(x: Exchange): ArmCaller {
    const verdict = this.entra.verifyAccessToken(x.bearerToken(), [this.url, 'https://management.azure.com/', 'https://management.core.windows.net/']);
    if ('error' in verdict) {
      const expired = /expired/.test(verdict.error);
      throw new ArmError(401, expired ? 'ExpiredAuthenticationToken' : 'InvalidAuthenticationToken',
        expired ? 'The access token expiry UTC time is earlier than current UTC time.' : `The access token is invalid: ${verdict.error}.`,
        { 'www-authenticate': `Bearer authorization_uri="${this.entra.url}/${this.entra.tenantId}", error="invalid_token"` });
    }
    const identity = this.entra.identityOf(verdict.claims);
    if (!identity) throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is from an unknown client.');
    return { identity };
  }

  private async handle(x: Exchange): Promise<void> {
    try {
      if (!(await this.router.handle(x))) {
        const providerPath = /\/providers\/([^/]+)\/([^/?]+)/i.exec(x.path);
        if (providerPath) {
          throw new ArmError(400, 'InvalidResourceType', `The resource type '${providerPath[2]}' could not be found in the namespace '${providerPath[1]}' for api version '${x.query('api-version') ?? ''}'.`);
        }
        throw new ArmError(404, 'NotFound', `No route for ${x.method} ${x.path}.`);
      }
    } catch (err) {
      if (!(err instanceof ArmError)) throw err;
      x.sendJson(err.status, { error: { code: err.code, message: err.message } }, {
        'x-ms-failure-cause': err.status === 403 ? 'gateway' : 'service',
        'x-ms-correlation-request-id': randomUUID(),
        ...err.headers,
      });
    }
  }

  private addCoreRoutes(): void {
    const versions = ['2020-01-01', '2021-01-01', '2022-12-01'];
    this.route('GET', '/subscriptions/:subscriptionId', versions, (x) => x.sendJson(200, {
      id: this.subscriptionScope, subscriptionId: this.subscriptionId, tenantId: this.entra.tenantId,
      displayName: 'Contoso delivery', state: 'Enabled',
    }));
    this.route('GET', '/subscriptions/:subscriptionId/resourcegroups', ['2021-04-01', '2022-09-01'], (x, caller) => {
      this.authorize(caller, this.subscriptionScope, 'Microsoft.Resources/subscriptions/resourceGroups/read');
      x.sendJson(200, { value: [...this.resourceGroups].map((name) => this.resourceGroup(name)) });
    });
    this.route('GET', '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName', ['2021-04-01', '2022-09-01'], (x, caller) => {
      const scope = `${this.subscriptionScope}/resourceGroups/${x.params.resourceGroupName}`;
      this.authorize(caller, scope, 'Microsoft.Resources/subscriptions/resourceGroups/read');
      x.sendJson(200, this.resourceGroup(x.params.resourceGroupName));
    });
    // Operation results of long-running operations; polled with the same bearer token. The SDKs append their own
    // api-version to a Location without one, so any api-version is accepted here.
    this.router.add('GET', '/subscriptions/:subscriptionId/providers/:provider/locations/:location/operationResults/:id', (x) => {
      this.authenticate(x);
      const op = this.operations.get(x.params.id);
      if (!op) throw new ArmError(404, 'OperationNotFound', `The operation '${x.params.id}' could not be found.`);
      if (op.state === 'running') return x.send(202, 'null', { 'retry-after': String(this.retryAfterSeconds), location: `${x.baseUrl}${x.path}`, 'content-type': 'application/json' });
      if (op.state === 'failed') throw op.error!;
      x.sendJson(200, { status: 'Succeeded' });
    });
  }

  private resourceGroup(name: string) {
    return { id: `${this.subscriptionScope}/resourceGroups/${name}`, name, location: this.location, type: 'Microsoft.Resources/resourceGroups', properties: { provisioningState: 'Succeeded' } };
  }
}

function isWithin(scope: string, assignedScope: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  const a = assignedScope.toLowerCase().replace(/\/+$/, '');
  return s === a || s.startsWith(`${a}/`);
}

function matches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(action);
}
