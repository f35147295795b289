import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { signJwt } from './jwt';
import { Router, startHttpsServer, type RunningServer, type TlsMaterial } from './http';
// deploy-to-aks (GitOps): Azure Repos on real bare repositories
import { AzureRepos } from './repos/azureRepos';

export interface ServiceConnectionRecord {
  id: string;
  name: string;
}

/**
 * The Azure DevOps side of workload identity federation: the OIDC token endpoint a job calls with its access token
 * (System.OidcRequestUri), and the location data azure-devops-node-api asks for first. Tokens are signed by the
 * organisation's issuer, which the Entra emulator trusts for the federated identity.
 */
export class DevOpsEmulator {
  readonly organizationId = randomUUID();
  readonly organization = 'contoso';
  readonly projectId = randomUUID();
  readonly project = 'shop';
  readonly planId = randomUUID();
  readonly jobId = randomUUID();
  /** The job's System.AccessToken. */
  readonly accessToken = `job-${randomUUID()}`;
  readonly serviceConnections = new Map<string, ServiceConnectionRecord>();
  private readonly key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  /** Lifetime of issued OIDC tokens; tests shorten it to exercise expiry. */
  oidcTokenLifetimeSeconds = 600;
  oidcRequests = 0;
  /** Azure Repos of the project (deploy-to-aks, GitOps). */
  readonly repos: AzureRepos;
  /** Every federated token served, in order: tests check that a task registered each as a secret. */
  readonly servedOidcTokens: string[] = [];
  private server?: RunningServer;

  private constructor(dir: string) {
    this.repos = new AzureRepos({
      organization: this.organization, project: this.project, projectId: this.projectId, dir,
      accessToken: () => this.accessToken, baseUrl: () => this.server!.url,
    });
  }

  /** `dir` holds the bare repositories of Azure Repos. */
  static async start(tls: TlsMaterial, dir: string): Promise<DevOpsEmulator> {
    const devops = new DevOpsEmulator(dir);
    const router = devops.routes();
    devops.repos.addRoutes(router);
    devops.server = await startHttpsServer('devops', tls, async (x) => {
      if (!(await router.handle(x))) x.sendJson(404, { message: `No route for ${x.method} ${x.path}`, typeKey: 'RouteNotFoundException' });
    });
    return devops;
  }

  get issuer(): string {
    return `https://vstoken.dev.azure.com/${this.organizationId}`;
  }
  get publicKeyPem(): string {
    return this.key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  }
  get collectionUri(): string {
    return `${this.server!.url}/${this.organization}/`;
  }
  /** System.OidcRequestUri as the agent builds it for this job. */
  get oidcRequestUri(): string {
    return `${this.server!.url}/${this.organization}/${this.projectId}/_apis/distributedtask/hubs/build/plans/${this.planId}/jobs/${this.jobId}/oidctoken`;
  }
  get faults() {
    return this.server!.faults;
  }

  addServiceConnection(name: string): ServiceConnectionRecord {
    const record = { id: randomUUID(), name };
    this.serviceConnections.set(record.id, record);
    return record;
  }

  /** The federated subject Entra must be told about for a service connection. */
  subjectOf(connection: ServiceConnectionRecord): string {
    return `sc://${this.organization}/${this.project}/${connection.name}`;
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }

  private routes(): Router {
    const router = new Router();
    router.add('OPTIONS', '/:org/_apis/distributedtask', (x) => x.sendJson(200, {
      count: 1,
      value: [{
        id: '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2', area: 'distributedtask', resourceName: 'oidctoken',
        routeTemplate: '{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/jobs/{jobId}/{resource}',
        resourceVersion: 1, minVersion: '7.1', maxVersion: '7.2', releasedVersion: '0.0',
      }],
    }));
    router.add('POST', '/:org/:project/_apis/distributedtask/hubs/:hub/plans/:plan/jobs/:job/oidctoken', (x) => {
      if (x.bearerToken() !== this.accessToken) return x.send(401);
      const apiVersion = x.query('api-version') ?? /api-version=([^;,\s]+)/.exec(x.header('accept') ?? '')?.[1];
      if (!apiVersion) {
        return x.sendJson(400, { message: 'No api-version was supplied for the POST request.', typeKey: 'VssVersionNotSpecifiedException' });
      }
      const connection = this.serviceConnections.get(x.query('serviceConnectionId') ?? '');
      if (!connection) {
        return x.sendJson(400, { message: `Service connection ${x.query('serviceConnectionId')} not found or the job is not authorized to use it.`, typeKey: 'ServiceEndpointNotFoundException' });
      }
      if (x.params.plan !== this.planId || x.params.job !== this.jobId) {
        return x.sendJson(404, { message: 'The job does not exist or has completed.', typeKey: 'TaskOrchestrationJobNotFoundException' });
      }
      this.oidcRequests++;
      const now = Math.floor(Date.now() / 1000);
      const oidcToken = signJwt({
        iss: this.issuer, sub: this.subjectOf(connection), aud: 'api://AzureADTokenExchange',
        exp: now + this.oidcTokenLifetimeSeconds, nbf: now, iat: now,
      }, this.key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
      this.servedOidcTokens.push(oidcToken);
      x.sendJson(200, { oidcToken });
    });
    return router;
  }
}
