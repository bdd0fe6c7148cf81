// The install manifests in deploy/, rendered by kustomize exactly as a cluster admin applies them,
// checked for the mistakes that break real installs or lock people out of their cluster.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaults, validateConfig, type Config } from '../src/config/config.js';
import { BUILTIN_RESOURCES } from '../src/kube/builtin.js';

const run = promisify(execFile);

type Manifest = Record<string, any>;

const OVERLAYS = ['cert-manager', 'self-signed', 'audit-only', 'legacy'] as const;
type Overlay = (typeof OVERLAYS)[number];

/** The routes of src/admission/app.ts. */
const PATHS = {
  ValidatingWebhookConfiguration: '/validate',
  MutatingWebhookConfiguration: '/mutate',
};
const NEVER_REVIEWED = ['pods', 'replicasets', 'events', 'leases', 'endpoints'];
const EXCLUDED_NAMESPACES = [...defaults.excludedNamespaces, 'driftgate'];
/** Argo CD's and Flux's default sync identities, and users whose writes must be judged. */
const ALWAYS_REVIEWED = [
  ...defaults.syncUsers,
  'system:serviceaccount:argocd:argocd-server',
  'system:serviceaccount:kube-system:default',
  'system:serviceaccount:shop:deployer',
  'alice@example.com',
];
const SKIPPED = [
  'system:kube-controller-manager',
  'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
  'system:serviceaccount:kube-system:generic-garbage-collector',
  'system:serviceaccount:kube-system:namespace-controller',
  'system:node:worker-1',
];
const DRAIN_SECONDS = 5; // `driftgate serve --drain-seconds` default

async function render(overlay: Overlay): Promise<Manifest[]> {
  return renderDir(`deploy/overlays/${overlay}`);
}

async function renderDir(dir: string): Promise<Manifest[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('kubectl', ['kustomize', dir], {
      timeout: 30_000,
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // No kubectl: the standalone kustomize renders the same.
    ({ stdout } = await run('kustomize', ['build', dir], {
      timeout: 30_000,
      maxBuffer: 16 * 1024 * 1024,
    }));
  }
  return loadAll(stdout).filter((doc): doc is Manifest => typeof doc === 'object' && doc !== null);
}

function only(objects: Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter(
    (object) => object.kind === kind && (name === undefined || object.metadata.name === name),
  );
  expect(found, `exactly one ${kind}${name === undefined ? '' : ` ${name}`}`).toHaveLength(1);
  return found[0]!;
}

interface Webhook {
  readonly configuration: Manifest;
  readonly webhook: Manifest;
}

function webhooksOf(objects: Manifest[]): Webhook[] {
  return objects
    .filter((object) => object.kind in PATHS)
    .flatMap((configuration) =>
      (configuration.webhooks as Manifest[]).map((webhook) => ({ configuration, webhook })),
    );
}

/**
 * Evaluates the two forms of matchCondition the manifests use, and nothing else: any other
 * expression fails the test, so a new condition comes with a new reading here.
 */
function matches(expression: string, username: string): boolean {
  const notIn = /^!\(request\.userInfo\.username in \[((?:\s*'[^'\\]*'\s*,?)*)\]\)$/.exec(
    expression.trim(),
  );
  if (notIn !== null) {
    const listed = [...notIn[1]!.matchAll(/'([^'\\]*)'/g)].map((match) => match[1]!);
    return !listed.includes(username);
  }
  const notPrefix = /^!request\.userInfo\.username\.startsWith\('([^'\\]*)'\)$/.exec(
    expression.trim(),
  );
  if (notPrefix !== null) return !username.startsWith(notPrefix[1]!);
  throw new Error(`matchCondition expression of an unknown form: ${expression}`);
}

function reviewed(webhook: Manifest, username: string): boolean {
  const conditions = (webhook.matchConditions ?? []) as Manifest[];
  return conditions.every((condition) => matches(condition.expression as string, username));
}

function skippedList(webhook: Manifest): string[] {
  const conditions = (webhook.matchConditions ?? []) as Manifest[];
  return conditions.flatMap((condition) => {
    const list = /\[((?:\s*'[^']*'\s*,?)*)\]/.exec(condition.expression as string);
    return list === null ? [] : [...list[1]!.matchAll(/'([^']*)'/g)].map((match) => match[1]!);
  });
}

function excludedBy(selector: Manifest | undefined): string[] {
  const expressions = (selector?.matchExpressions ?? []) as Manifest[];
  return expressions
    .filter((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn')
    .flatMap((e) => e.values as string[]);
}

function podSpec(objects: Manifest[]): Manifest {
  return only(objects, 'Deployment', 'driftgate').spec.template.spec;
}

function container(objects: Manifest[]): Manifest {
  const containers = podSpec(objects).containers as Manifest[];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

function volumeAt(objects: Manifest[], path: string): { mount: Manifest; volume: Manifest } {
  const mounts = (container(objects).volumeMounts ?? []) as Manifest[];
  const mount = mounts
    .filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath as string}/`))
    .sort((a, b) => (b.mountPath as string).length - (a.mountPath as string).length)[0];
  expect(mount, `a volume mounted at ${path}`).toBeDefined();
  const volume = (podSpec(objects).volumes as Manifest[]).find((v) => v.name === mount!.name);
  expect(volume, `the volume ${mount!.name as string}`).toBeDefined();
  return { mount: mount!, volume: volume! };
}

function writable(objects: Manifest[], path: string): boolean {
  const { mount, volume } = volumeAt(objects, path);
  return mount.readOnly !== true && mount.subPath === undefined && 'emptyDir' in volume;
}

function configOf(objects: Manifest[]): Config {
  const { mount, volume } = volumeAt(objects, '/etc/driftgate/config.yaml');
  const name = volume.configMap?.name as string;
  const configMap = only(objects, 'ConfigMap', name);
  const key = (mount.subPath as string | undefined) ?? 'config.yaml';
  const text = configMap.data?.[key] as string | undefined;
  expect(text, `${name} holds ${key}`).toBeDefined();
  const parsed = loadAll(text!)[0];
  const result = validateConfig(parsed);
  if ('errors' in result) throw new Error(`${name}/${key}: ${JSON.stringify(result.errors)}`);
  return result.config;
}

function portOf(objects: Manifest[], port: number | string): number {
  if (typeof port === 'number') return port;
  const ports = (container(objects).ports ?? []) as Manifest[];
  const named = ports.find((p) => p.name === port);
  expect(named, `a container port named ${port}`).toBeDefined();
  return named!.containerPort as number;
}

describe.each(OVERLAYS)('deploy/overlays/%s', (overlay) => {
  let objects: Manifest[];
  beforeAll(async () => {
    objects = await render(overlay);
  }, 60_000);

  it('puts every namespaced object in the driftgate Namespace it creates', () => {
    only(objects, 'Namespace', 'driftgate');
    const clusterScoped = [
      'Namespace',
      'ClusterRole',
      'ClusterRoleBinding',
      'ValidatingWebhookConfiguration',
      'MutatingWebhookConfiguration',
    ];
    for (const object of objects) {
      if (clusterScoped.includes(object.kind as string)) continue;
      expect(
        object.metadata.namespace,
        `${object.kind as string} ${object.metadata.name as string}`,
      ).toBe('driftgate');
    }
  });

  it('calls the webhooks through the Service, at the routes driftgate serves', () => {
    const service = only(objects, 'Service', 'driftgate');
    const webhooks = webhooksOf(objects);
    expect(webhooks.map(({ webhook }) => webhook.name).sort()).toEqual([
      'mutate-cluster.driftgate.io',
      'mutate.driftgate.io',
      'validate-cluster.driftgate.io',
      'validate.driftgate.io',
    ]);
    for (const { configuration, webhook } of webhooks) {
      const target = webhook.clientConfig.service as Manifest;
      expect(webhook.clientConfig.url).toBeUndefined();
      expect(target.name).toBe(service.metadata.name);
      expect(target.namespace).toBe(service.metadata.namespace);
      const servicePort = (service.spec.ports as Manifest[]).find(
        (p) => p.port === (target.port ?? 443),
      );
      expect(servicePort, `Service port ${String(target.port)}`).toBeDefined();
      expect(portOf(objects, servicePort!.targetPort)).toBe(8443);
      expect(target.path).toBe(PATHS[configuration.kind as keyof typeof PATHS]);
    }
    // The Service reaches the pods.
    const labels = only(objects, 'Deployment', 'driftgate').spec.template.metadata.labels;
    expect(labels).toMatchObject(service.spec.selector);
  });

  it('sets what the API server needs of every webhook', () => {
    for (const { configuration, webhook } of webhooksOf(objects)) {
      expect(webhook.admissionReviewVersions).toEqual(['v1']);
      expect(webhook.sideEffects).toBe('NoneOnDryRun');
      expect(webhook.timeoutSeconds).toBeLessThanOrEqual(5);
      expect(webhook.matchPolicy).toBe('Equivalent');
      expect(webhook.failurePolicy).toBe(overlay === 'audit-only' ? 'Ignore' : 'Fail');
      if (configuration.kind === 'MutatingWebhookConfiguration') {
        expect(webhook.reinvocationPolicy).toBe('IfNeeded');
      }
    }
  });

  it('registers each kind at one version, the API server’s preferred, to be sent every write in it', () => {
    // With matchPolicy Equivalent the API server converts a write made at another version (an
    // HPA edited at autoscaling/v1) to the registered one: driftgate then converts Git's side.
    const preferred = new Map(
      BUILTIN_RESOURCES.map(([group, resource, , , versions]) => [
        `${group}/${resource}`,
        versions[0],
      ]),
    );
    for (const { webhook } of webhooksOf(objects)) {
      expect(webhook.matchPolicy).toBe('Equivalent');
      for (const rule of webhook.rules as Manifest[]) {
        expect(rule.apiVersions, JSON.stringify(rule)).toHaveLength(1);
        for (const group of rule.apiGroups as string[]) {
          for (const resource of rule.resources as string[]) {
            const id = `${group}/${resource.split('/')[0]!}`;
            expect(preferred.has(id), `${id} is a Kubernetes resource`).toBe(true);
            expect(rule.apiVersions, id).toEqual([preferred.get(id)]);
          }
        }
      }
    }
    const hpa = webhooksOf(objects)
      .flatMap(({ webhook }) => webhook.rules as Manifest[])
      .filter((rule) => (rule.resources as string[]).includes('horizontalpodautoscalers'));
    expect(hpa.length).toBeGreaterThan(0);
    for (const rule of hpa) expect(rule.apiVersions).toEqual(['v2']);
  });

  it('never reviews what controllers write all the time', () => {
    for (const { webhook } of webhooksOf(objects)) {
      for (const rule of webhook.rules as Manifest[]) {
        expect(rule.apiGroups).not.toContain('*');
        for (const resource of rule.resources as string[]) {
          expect(resource).not.toContain('*');
          expect(NEVER_REVIEWED).not.toContain(resource.split('/')[0]);
        }
        for (const operation of rule.operations as string[]) {
          expect(['CREATE', 'UPDATE', 'DELETE']).toContain(operation);
        }
      }
    }
  });

  it('reviews namespaced kinds only in opted-in namespaces, never in the excluded ones', () => {
    const webhooks = webhooksOf(objects).map(({ webhook }) => webhook);
    const namespaced = webhooks.filter((w) => !(w.name as string).includes('-cluster.'));
    expect(namespaced).toHaveLength(2);
    for (const webhook of namespaced) {
      for (const rule of webhook.rules as Manifest[]) expect(rule.scope).toBe('Namespaced');
      const resources = (webhook.rules as Manifest[]).flatMap((r) => r.resources as string[]);
      expect(resources).toEqual(
        expect.arrayContaining(['deployments/scale', 'statefulsets/scale']),
      );
      expect(excludedBy(webhook.namespaceSelector)).toEqual(
        expect.arrayContaining(EXCLUDED_NAMESPACES),
      );
      expect(webhook.namespaceSelector.matchExpressions).toContainEqual({
        key: 'driftgate.io/enforce',
        operator: 'In',
        values: ['true'],
      });
    }
    const cluster = webhooks.filter((w) => (w.name as string).includes('-cluster.'));
    expect(cluster).toHaveLength(2);
    for (const webhook of cluster) {
      // A namespaceSelector does not filter cluster-scoped kinds: these need a webhook of their own.
      for (const rule of webhook.rules as Manifest[]) expect(rule.scope).toBe('Cluster');
      // Opt-in per object: an unready driftgate must not block every CRD or Namespace write.
      expect(webhook.objectSelector).toEqual({ matchLabels: { 'driftgate.io/enforce': 'true' } });
      // A namespaceSelector does filter Namespace objects, by their own labels.
      expect(excludedBy(webhook.namespaceSelector)).toEqual(
        expect.arrayContaining(EXCLUDED_NAMESPACES),
      );
    }
  });

  it('lets the control plane through without driftgate, never the sync identities', () => {
    for (const { webhook } of webhooksOf(objects)) {
      if (overlay === 'legacy') {
        expect(webhook.matchConditions).toBeUndefined();
        continue;
      }
      expect(webhook.matchConditions).toHaveLength(2);
      for (const username of ALWAYS_REVIEWED) {
        expect(reviewed(webhook, username), `${webhook.name as string} reviews ${username}`).toBe(
          true,
        );
      }
      for (const username of SKIPPED) {
        expect(reviewed(webhook, username), `${webhook.name as string} skips ${username}`).toBe(
          false,
        );
      }
      // Exactly the identities the policy exempts: the webhook skips no one driftgate would
      // judge, and the control plane never waits on driftgate (or fails with it) to write.
      expect(new Set(skippedList(webhook))).toEqual(
        new Set(defaults.exemptUsers.filter((username) => !username.endsWith('*'))),
      );
    }
  });

  it('serves a certificate for the Service name, from the Secret the pods mount', () => {
    const service = only(objects, 'Service', 'driftgate');
    const config = configOf(objects);
    const { volume } = volumeAt(objects, config.listen.certFile!);
    const secretName = volume.secret?.secretName as string;
    expect(secretName).toBe('driftgate-tls');
    expect(volumeAt(objects, config.listen.keyFile!).volume).toBe(volume);
    const host = `${service.metadata.name as string}.${service.metadata.namespace as string}.svc`;
    const certificates = objects.filter((o) => o.kind === 'Certificate');
    if (overlay === 'self-signed') {
      expect(certificates).toHaveLength(0);
      for (const { webhook } of webhooksOf(objects)) {
        expect(webhook.clientConfig.caBundle).toBe('REPLACE_WITH_CABUNDLE');
      }
      return;
    }
    const serving = certificates.find((c) => c.spec.secretName === secretName);
    expect(serving, `a Certificate writing the Secret ${secretName}`).toBeDefined();
    expect(serving!.spec.dnsNames).toContain(host);
    const issuer = only(objects, 'Issuer', serving!.spec.issuerRef.name);
    const ca = certificates.find((c) => c.spec.secretName === issuer.spec.ca?.secretName);
    expect(ca?.spec.isCA).toBe(true);
    for (const configuration of objects.filter((o) => o.kind in PATHS)) {
      expect(configuration.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(
        `${serving!.metadata.namespace as string}/${serving!.metadata.name as string}`,
      );
    }
  });

  it('starts safe: a valid config in audit mode, its files where the pod has them', () => {
    const config = configOf(objects);
    expect(config.mode).toBe('audit');
    expect(config.listen.port).toBe(8443);
    const args = container(objects).args as string[];
    expect(args.slice(0, 1)).toEqual(['serve']);
    expect(args[args.indexOf('--config') + 1]).toBe('/etc/driftgate/config.yaml');
    for (const file of [config.listen.certFile!, config.listen.keyFile!]) {
      expect(file.startsWith('/etc/driftgate/tls/')).toBe(true);
      expect(volumeAt(objects, file).mount.mountPath).toBe('/etc/driftgate/tls');
    }
    expect(config.override.configMap).toBe(
      only(objects, 'ConfigMap', config.override.configMap).metadata.name,
    );
  });

  it('runs on a read-only root, with a volume for every path driftgate writes', () => {
    const config = configOf(objects);
    const spec = podSpec(objects);
    const main = container(objects);
    expect(main.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(main.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(main.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.securityContext.runAsUser).toBe(65532);
    expect(spec.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    expect(config.cacheDir.startsWith('/')).toBe(true);
    expect(writable(objects, config.cacheDir), `cacheDir ${config.cacheDir} is writable`).toBe(
      true,
    );
    expect(writable(objects, '/tmp'), '/tmp is writable').toBe(true);
  });

  it('stays available: replicas, budget, probes, and time to drain', () => {
    const deployment = only(objects, 'Deployment', 'driftgate');
    const spec = podSpec(objects);
    const main = container(objects);
    const pdb = only(objects, 'PodDisruptionBudget', 'driftgate');
    expect(deployment.spec.replicas).toBe(3);
    expect(pdb.spec.minAvailable).toBe(2);
    expect(deployment.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(spec.priorityClassName).toBe('system-cluster-critical');
    expect(spec.topologySpreadConstraints).toContainEqual(
      expect.objectContaining({ topologyKey: 'kubernetes.io/hostname' }),
    );
    expect(main.readinessProbe.httpGet).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(main.livenessProbe.httpGet).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    expect(portOf(objects, main.readinessProbe.httpGet.port)).toBe(8443);
    expect(portOf(objects, main.livenessProbe.httpGet.port)).toBe(8443);
    const timeout = Math.max(
      ...webhooksOf(objects).map(({ webhook }) => webhook.timeoutSeconds as number),
    );
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(DRAIN_SECONDS + timeout);
    expect(main.lifecycle?.preStop).toBeUndefined();
  });

  it('opens only the webhook port and grants no write to what it judges', () => {
    const policy = only(objects, 'NetworkPolicy', 'driftgate');
    expect(policy.spec.ingress).toEqual([{ ports: [{ port: 8443, protocol: 'TCP' }] }]);
    const rules = objects
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .flatMap((role) => role.rules as Manifest[]);
    for (const rule of rules) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources ?? []).not.toContain('*');
      expect(rule.resources ?? []).not.toContain('secrets');
      const writes = (rule.verbs as string[]).filter((v) => !['get', 'list', 'watch'].includes(v));
      if (writes.length > 0) expect(rule.resources).toEqual(['events']);
      if (rule.nonResourceURLs !== undefined) expect(rule.verbs).toEqual(['get']);
    }
    const role = only(objects, 'Role', 'driftgate');
    expect(role.rules).toEqual([
      expect.objectContaining({ resources: ['configmaps'], resourceNames: ['driftgate-override'] }),
    ]);
  });
});

/** An overlay of the user's own, outside the project, on cert-manager with these components. */
async function renderWithComponents(components: readonly string[]): Promise<Manifest[]> {
  const overlay = mkdtempSync(join(tmpdir(), 'driftgate-overlay-'));
  try {
    const deploy = relative(overlay, join(import.meta.dirname, '..', 'deploy'));
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      `resources: [${deploy}/overlays/cert-manager]\ncomponents: [${components
        .map((component) => `${deploy}/components/${component}`)
        .join(', ')}]\n`,
    );
    return await renderDir(overlay);
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
}

describe('deploy/components/argocd-hub', () => {
  it('mounts the hub’s kubeconfig where the config names it, readable by driftgate only', async () => {
    const objects = await renderWithComponents(['argocd-hub']);
    const pod = only(objects, 'Deployment', 'driftgate').spec.template.spec as Manifest;
    expect(pod.volumes).toContainEqual({
      name: 'hub-kubeconfig',
      secret: { secretName: 'driftgate-hub-kubeconfig', defaultMode: 0o440 },
    });
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
    const container = (pod.containers as Manifest[])[0]!;
    expect(container.volumeMounts).toContainEqual({
      name: 'hub-kubeconfig',
      mountPath: '/etc/driftgate/hub',
      readOnly: true,
    });
    // The path the component's comment tells the config to use is valid config.
    const result = validateConfig({
      discovery: {
        argocd: { hub: { kubeconfigFile: '/etc/driftgate/hub/kubeconfig', name: 'spoke-1' } },
      },
    });
    expect('errors' in result ? result.errors : []).toEqual([]);
  });
});

describe('deploy/components/argocd-repo-credentials', () => {
  it('adds a read of Secrets in Argo CD’s namespace only, and of its SSH known hosts by name', async () => {
    const objects = await renderWithComponents(['argocd-repo-credentials']);
    const base = await render('cert-manager');
    expect(objects.length).toBe(base.length + 2);
    const role = only(objects, 'Role', 'driftgate-repo-credentials');
    expect(role.metadata.namespace).toBe('argocd');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] },
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['argocd-ssh-known-hosts-cm'],
        verbs: ['list', 'watch'],
      },
    ]);
    const binding = only(objects, 'RoleBinding', 'driftgate-repo-credentials');
    expect(binding.metadata.namespace).toBe('argocd');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'driftgate', namespace: 'driftgate' },
    ]);
    // Nothing else reads a Secret.
    const readers = objects
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .filter((o) => (o.rules as Manifest[]).some((r) => r.resources?.includes('secrets')));
    expect(readers.map((o) => o.metadata.name)).toEqual(['driftgate-repo-credentials']);
  });
});

describe('deploy/components/scan', () => {
  it('adds a read-only list of every resource (and discovery), the writes of its own PolicyReports and its Lease, bound to driftgate', async () => {
    const objects = await renderWithComponents(['scan']);
    const base = await render('cert-manager');
    expect(objects.length).toBe(base.length + 4);
    const role = only(objects, 'ClusterRole', 'driftgate-scan');
    expect(role.rules).toEqual([
      { apiGroups: ['*'], resources: ['*'], verbs: ['list'] },
      { nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*'], verbs: ['get'] },
      {
        apiGroups: ['wgpolicyk8s.io'],
        resources: ['policyreports', 'clusterpolicyreports'],
        verbs: ['create'],
      },
      {
        apiGroups: ['wgpolicyk8s.io'],
        resources: ['policyreports', 'clusterpolicyreports'],
        resourceNames: ['driftgate'],
        verbs: ['update', 'delete'],
      },
    ]);
    const binding = only(objects, 'ClusterRoleBinding', 'driftgate-scan');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'driftgate-scan',
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'driftgate', namespace: 'driftgate' },
    ]);
    // The Lease, in driftgate's namespace only, and by name but for its creation.
    const lease = only(objects, 'Role', 'driftgate-scan');
    expect(lease.metadata.namespace).toBe('driftgate');
    expect(lease.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: ['driftgate-scan'],
        verbs: ['get', 'update'],
      },
    ]);
    const leaseBinding = only(objects, 'RoleBinding', 'driftgate-scan');
    expect(leaseBinding.metadata.namespace).toBe('driftgate');
    expect(leaseBinding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'driftgate-scan',
    });
    expect(leaseBinding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'driftgate', namespace: 'driftgate' },
    ]);
  });
});
