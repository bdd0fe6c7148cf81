import { describe, expect, it } from 'vitest';
import {
  defaults,
  EXEMPT_PRESETS,
  formatFieldErrors,
  sourceNameProblem,
  validateConfig,
  type Config,
} from './config.js';

const source = { name: 'shop', repoURL: 'https://git.example.com/ops.git' };

function valid(value: unknown): Config {
  const result = validateConfig(value);
  if ('errors' in result) throw new Error(formatFieldErrors(result.errors));
  return result.config;
}

function errorsOf(value: unknown): string[] {
  const result = validateConfig(value);
  return 'errors' in result ? result.errors.map((e) => `${e.path}: ${e.message}`) : [];
}

describe('validateConfig: the background scan', () => {
  it('scans whenever the cluster is watched, every 10 minutes, at 20 requests a second', () => {
    expect(valid({ sources: [source] }).scan).toEqual({
      enabled: 'auto',
      intervalMs: 600_000,
      qps: 20,
      policyReports: 'auto',
    });
  });

  it('reads enabled, interval, qps and policyReports', () => {
    expect(
      valid({
        sources: [source],
        scan: { enabled: false, interval: '1h', qps: 2.5, policyReports: false },
      }).scan,
    ).toEqual({ enabled: false, intervalMs: 3_600_000, qps: 2.5, policyReports: false });
    expect(valid({ sources: [source], scan: { policyReports: true } }).scan.policyReports).toBe(
      true,
    );
  });
});

describe('validateConfig: a key written with no value', () => {
  it('takes the default, in every mapping (YAML reads `watch:` as null)', () => {
    const config = valid({
      sources: [{ ...source, revision: null, pollInterval: null }],
      listen: null,
      cluster: { watch: null, events: null },
      scan: { enabled: null },
      breakGlass: { ttl: null, ticketPattern: null },
      namespaces: { overrides: { shop: null } },
    });
    expect(config.cluster).toEqual({ watch: 'auto', events: true, namespace: 'driftgate' });
    expect(config.scan.enabled).toBe('auto');
    expect(config.breakGlass.ttlMs).toBe(defaults.breakGlassTtlMs);
    expect(config.sources[0]).toMatchObject({ revision: null, pollIntervalMs: 30_000 });
    expect(config.namespaces.overrides).toEqual({ shop: {} });
    expect(config.listen.port).toBe(8443);
  });

  it('turns discovery on (`flux:` with nothing after it), and counts as missing where required', () => {
    expect(valid({ discovery: { flux: null } }).discovery.flux).toEqual({
      namespace: 'flux-system',
    });
    expect(errorsOf({ sources: [{ name: null, repoURL: 'https://h/r.git' }] })).toEqual([
      'sources[0].name: required',
    ]);
  });
});

describe('validateConfig defaults', () => {
  it('fills every default of DESIGN.md §3 and §6 around a minimal source', () => {
    const config = valid({ sources: [source] });
    expect(config.mode).toBe('enforce');
    expect(config.fieldPolicy).toBe('declared');
    expect(config.unmanaged).toBe('allow');
    expect(config.failureMode).toBe('open');
    expect(config.listen).toEqual({
      port: 8443,
      certFile: null,
      keyFile: null,
      clientCAFile: null,
    });
    expect(config.safety).toEqual({ maxDeletionShare: 0.5, acceptDeletionsAt: null });
    expect(config.cacheDir).toBe('.driftgate-cache');
    expect(config.namespaces.exclude).toEqual([
      'kube-system',
      'kube-public',
      'kube-node-lease',
      'argocd',
      'flux-system',
      'cert-manager',
      'driftgate',
    ]);
    expect(config.syncIdentities.users).toContain(
      'system:serviceaccount:argocd:argocd-application-controller',
    );
    expect(config.syncIdentities.users).toContain(
      'system:serviceaccount:kube-system:argocd-manager',
    );
    expect(config.syncIdentities.users).toContain(
      'system:serviceaccount:flux-system:kustomize-controller',
    );
    expect(config.syncIdentities.users).toContain(
      'system:serviceaccount:flux-system:helm-controller',
    );
    expect(config.syncIdentities.users.some((user) => user.includes('argocd-server'))).toBe(false);
    expect(config.exemptIdentities.users).toContain('system:kube-controller-manager');
    expect(config.exemptIdentities.users).toContain(
      'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
    );
    expect(config.adminGroups).toEqual(['system:masters']);
    expect(config.builtins).toEqual({
      caBundles: true,
      rolloutRestart: true,
      aggregatedClusterRoles: true,
    });
    expect(config.breakGlass).toEqual({
      groups: [],
      users: [],
      ttlMs: 4 * 3_600_000,
      ticketPattern: null,
    });
    expect(config.hooks.git.secretFile).toBeNull();
    expect(config.override.configMap).toBe('driftgate-override');
    expect(config.sources[0]).toEqual({
      name: 'shop',
      repoURL: 'https://git.example.com/ops.git',
      revision: null,
      path: '.',
      namespace: 'default',
      render: 'plain',
      command: [],
      pollIntervalMs: defaults.pollIntervalMs,
      include: [],
      exclude: [],
      auth: null,
      syncIdentities: { users: [], groups: [] },
    });
  });

  it.each([
    'clusterrole-aggregation-controller',
    'ephemeral-volume-controller',
    'expand-controller',
    'legacy-service-account-token-cleaner',
    'node-controller',
    'pod-garbage-collector',
    'route-controller',
    'service-controller',
    'statefulset-controller',
    'validatingadmissionpolicy-status-controller',
    'resource-claim-controller',
    'selinux-warning-controller',
    'volumeattributesclass-protection-controller',
    'persistent-volume-binder',
    'bootstrap-signer',
  ])('exempts kube-controller-manager’s %s service account by default', (name) => {
    expect(valid({ sources: [source] }).exemptIdentities.users).toContain(
      `system:serviceaccount:kube-system:${name}`,
    );
  });

  it('exempts no service account outside kube-system by default', () => {
    const accounts = valid({ sources: [source] }).exemptIdentities.users.filter((user) =>
      user.startsWith('system:serviceaccount:'),
    );
    expect(accounts.length).toBeGreaterThan(40);
    expect(
      accounts.filter((user) => !user.startsWith('system:serviceaccount:kube-system:')),
    ).toEqual([]);
  });

  it('adds the service accounts of the platform presets named, and only those', () => {
    const openshift = valid({ sources: [source], exemptIdentities: { presets: ['openshift'] } });
    expect(openshift.exemptIdentities.users).toEqual(
      expect.arrayContaining([
        ...defaults.exemptUsers,
        'system:serviceaccount:openshift-infra:serviceaccount-pull-secrets-controller',
        'system:serviceaccount:openshift-service-ca:service-ca',
        'system:serviceaccount:kube-system:service-ca-cert-publisher',
      ]),
    );
    expect(openshift.exemptIdentities.users).not.toContain(
      'system:serviceaccount:cert-manager:cert-manager',
    );
    const both = valid({
      sources: [source],
      exemptIdentities: {
        users: ['system:kube-scheduler'],
        presets: ['cert-manager', 'openshift'],
      },
    });
    expect(both.exemptIdentities.users).toEqual([
      'system:kube-scheduler',
      'system:serviceaccount:cert-manager:cert-manager',
      'system:serviceaccount:cert-manager:cert-manager-cainjector',
      ...EXEMPT_PRESETS.openshift,
    ]);
    expect(valid({ sources: [source] }).exemptIdentities.users).toEqual(defaults.exemptUsers);
  });

  it('names an unknown preset precisely', () => {
    expect(
      errorsOf({ sources: [source], exemptIdentities: { presets: ['openshift', 'OpenShift'] } }),
    ).toEqual([
      'exemptIdentities.presets[1]: unknown preset "OpenShift"; known presets: openshift, cert-manager',
    ]);
    expect(errorsOf({ sources: [source], exemptIdentities: { presets: 'openshift' } })).toEqual([
      'exemptIdentities.presets: must be a list of strings',
    ]);
  });

  it('always excludes its own namespace, even from a replaced list', () => {
    const config = valid({ sources: [source], namespaces: { exclude: ['legacy'] } });
    expect(config.namespaces.exclude).toEqual(['legacy', 'driftgate']);
    const elsewhere = validateConfig({ sources: [source] }, { ownNamespace: 'gatekeeping' });
    expect('config' in elsewhere && elsewhere.config.namespaces.exclude).toContain('gatekeeping');
  });

  it('reads the full shape of DESIGN.md §6', () => {
    const config = valid({
      listen: { port: 9443, certFile: 'certs/tls.crt', keyFile: 'certs/tls.key' },
      cacheDir: '/var/cache/driftgate',
      sources: [
        {
          ...source,
          revision: 'v1.2.0',
          path: './apps//shop/',
          namespace: 'shop',
          render: 'command',
          command: ['helm', 'template', '.'],
          pollInterval: '1m30s',
          include: ['**/*.yaml'],
          exclude: ['**/test/**'],
          auth: { usernameFile: '/secrets/user', passwordFile: '/secrets/token' },
          syncIdentities: { users: ['system:serviceaccount:shop:deployer'] },
        },
        {
          name: 'platform',
          repoURL: 'git@github.com:example/platform.git',
          revision: '0123456789abcdef0123456789abcdef01234567',
          render: 'kustomize',
          auth: { sshKeyFile: '/secrets/id_ed25519', knownHostsFile: '/secrets/known_hosts' },
        },
      ],
      discovery: { argocd: { namespace: 'gitops' }, flux: {} },
      mode: 'warn',
      fieldPolicy: 'strict',
      unmanaged: 'deny',
      failureMode: 'closed',
      kinds: { include: ['apps/Deployment'], exclude: [] },
      namespaces: { exclude: [], overrides: { shop: { mode: 'audit', fieldPolicy: 'declared' } } },
      syncIdentities: { users: ['system:serviceaccount:gitops:argocd-application-controller'] },
      exemptIdentities: { groups: ['system:nodes'] },
      adminGroups: ['platform-admins'],
      allowances: [
        {
          users: ['system:serviceaccount:reloader:reloader'],
          kind: 'Deployment',
          group: 'apps',
          jsonPointers: ['/spec/template/metadata/annotations'],
        },
      ],
      ignoreDifferences: [
        { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
        { kind: 'ConfigMap', name: 'ca', jqPathExpressions: ['.data.ca'] },
      ],
      builtins: { caBundles: false, rolloutRestart: true },
      breakGlass: { groups: ['oncall'], ttl: '2h', ticketPattern: '^INC-[0-9]+' },
      hooks: { git: { secretFile: '/secrets/hook' } },
      override: { configMap: 'kill-switch' },
    });
    expect(config.sources[0]).toMatchObject({
      revision: 'v1.2.0',
      path: 'apps/shop',
      render: 'command',
      command: ['helm', 'template', '.'],
      pollIntervalMs: 90_000,
      auth: { kind: 'https', usernameFile: '/secrets/user', passwordFile: '/secrets/token' },
    });
    expect(config.sources[1]?.auth).toEqual({
      kind: 'ssh',
      sshKeyFile: '/secrets/id_ed25519',
      knownHostsFile: '/secrets/known_hosts',
    });
    expect(config.discovery).toEqual({
      argocd: {
        namespace: 'gitops',
        controller: 'system:serviceaccount:gitops:argocd-application-controller',
        repoCredentials: false,
        trackingMethod: 'annotation',
        instanceLabelKey: 'app.kubernetes.io/instance',
        hub: null,
      },
      flux: { namespace: 'flux-system' },
    });
    expect(config.namespaces.overrides).toEqual({
      shop: { mode: 'audit', fieldPolicy: 'declared' },
    });
    expect(config.exemptIdentities).toEqual({
      users: defaults.exemptUsers,
      groups: ['system:nodes'],
    });
    expect(config.breakGlass.ttlMs).toBe(7_200_000);
    expect(config.ignoreDifferences[1]).toEqual({
      group: '',
      kind: 'ConfigMap',
      name: 'ca',
      namespace: null,
      jsonPointers: ['/data/ca'],
      jqPathExpressions: ['.data.ca'],
      managedFieldsManagers: [],
    });
  });

  it('reads a hub of Argo CD on another cluster, whose writes come as argocd-manager', () => {
    const config = valid({
      discovery: {
        argocd: {
          hub: { kubeconfigFile: '/etc/driftgate/hub/kubeconfig', name: 'spoke-1' },
        },
      },
    });
    expect(config.discovery.argocd).toMatchObject({
      namespace: 'argocd',
      controller: 'system:serviceaccount:kube-system:argocd-manager',
      hub: { kubeconfigFile: '/etc/driftgate/hub/kubeconfig', server: null, name: 'spoke-1' },
    });
  });

  it('accepts discovery without sources', () => {
    expect(valid({ discovery: { flux: {} } }).sources).toEqual([]);
  });

  it('reads the discovery options and a source of its own ignore rules', () => {
    const config = valid({
      sources: [
        {
          ...source,
          ignoreDifferences: [
            { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
          ],
        },
      ],
      discovery: {
        argocd: {
          namespace: 'gitops',
          controller: 'system:serviceaccount:gitops:controller',
          repoCredentials: false,
          trackingMethod: 'label',
          instanceLabelKey: 'argocd.argoproj.io/instance',
        },
        flux: { namespace: '*' },
      },
    });
    expect(config.discovery).toEqual({
      argocd: {
        namespace: 'gitops',
        controller: 'system:serviceaccount:gitops:controller',
        repoCredentials: false,
        trackingMethod: 'label',
        instanceLabelKey: 'argocd.argoproj.io/instance',
        hub: null,
      },
      flux: { namespace: null },
    });
    expect(config.sources[0]?.ignoreDifferences).toEqual([
      {
        group: 'apps',
        kind: 'Deployment',
        name: null,
        namespace: null,
        jsonPointers: ['/spec/replicas'],
        jqPathExpressions: [],
        managedFieldsManagers: [],
      },
    ]);
    expect(errorsOf({ discovery: { argocd: { trackingMethod: 'labels', colour: 1 } } })).toEqual([
      'discovery.argocd.trackingMethod: must be one of annotation, label, annotation+label',
      'discovery.argocd.colour: unknown key',
    ]);
  });

  it.each([
    ['shop', undefined],
    ['argocd:argocd/shop', undefined],
    ['argocd:argocd/guestbook.v2#1', undefined],
    ['flux:flux-system/apps', undefined],
    ['argocd:argocd', 'a discovered source is named <argocd|flux>:<namespace>/<name>[#index]'],
    ['jenkins:ci/shop', 'a discovered source is named <argocd|flux>:<namespace>/<name>[#index]'],
    ['Shop', 'must be lowercase letters, digits and "-" (at most 63), like a Kubernetes name'],
  ])('source name %s', (name, problem) => {
    expect(sourceNameProblem(name)).toBe(problem);
  });
});

describe('validateConfig errors name the key path', () => {
  it.each([
    { name: 'not a mapping', value: ['a'], expected: ['(root): must be a mapping'] },
    {
      name: 'nothing to compare with',
      value: {},
      expected: ['sources: required (or discovery): nothing to compare with'],
    },
    {
      name: 'a hub without a kubeconfig, or without the name this cluster has there',
      value: { discovery: { argocd: { hub: { region: 'eu' } } } },
      expected: [
        'discovery.argocd.hub.kubeconfigFile: required',
        'discovery.argocd.hub.server: name this cluster as Argo CD knows it: server, name or both',
        'discovery.argocd.hub.region: unknown key',
      ],
    },
    {
      name: 'Argo CD repository credentials that are not a boolean',
      value: { discovery: { argocd: { repoCredentials: 'yes please' } } },
      expected: ['discovery.argocd.repoCredentials: must be true or false'],
    },
    {
      name: 'a background scan that is neither a boolean nor auto, too often, or too fast',
      value: {
        sources: [source],
        scan: { enabled: 'yes', interval: '5s', qps: 0, policyReports: 'on', reports: true },
      },
      expected: [
        'scan.enabled: must be true, false or auto',
        'scan.interval: must be at least 60s',
        'scan.qps: must be a number of requests a second, above 0 and at most 1000',
        'scan.policyReports: must be true, false or auto',
        'scan.reports: unknown key',
      ],
    },
    {
      name: 'a cluster watch that is neither a boolean nor auto',
      value: { sources: [source], cluster: { watch: 'sometimes' } },
      expected: ['cluster.watch: must be true, false or auto'],
    },
    {
      name: 'a deletion share out of range',
      value: { sources: [source], safety: { maxDeletionShare: 0 } },
      expected: [
        'safety.maxDeletionShare: must be a number above 0 and at most 1 (1 turns the guard off)',
      ],
    },
    {
      name: 'a deletion share as a percentage string',
      value: { sources: [source], safety: { maxDeletionShare: '50%' } },
      expected: [
        'safety.maxDeletionShare: must be a number above 0 and at most 1 (1 turns the guard off)',
      ],
    },
    {
      name: 'an accepted commit that is not a SHA',
      value: { sources: [source], safety: { acceptDeletionsAt: 'main' } },
      expected: ['safety.acceptDeletionsAt: must be a commit SHA (hexadecimal, at least 7 digits)'],
    },
    {
      name: 'kinds that exclude every included kind',
      value: { sources: [source], kinds: { include: ['Deployment'], exclude: ['Deployment'] } },
      expected: ['kinds.exclude: excludes every kind of kinds.include: no write would be reviewed'],
    },
    {
      name: 'an unknown listen key',
      value: { sources: [source], listen: { clientCA: '/ca.crt' } },
      expected: ['listen.clientCA: unknown key'],
    },
    {
      name: 'unknown top-level key',
      value: { sources: [source], mdoe: 'warn' },
      expected: ['mdoe: unknown key'],
    },
    {
      name: 'unknown source key',
      value: { sources: [{ ...source, branch: 'main' }] },
      expected: ['sources[0].branch: unknown key'],
    },
    {
      name: 'missing repoURL and name',
      value: { sources: [source, { revision: 'main' }] },
      expected: ['sources[1].name: required', 'sources[1].repoURL: required'],
    },
    {
      name: 'empty revision',
      value: { sources: [source, { ...source, name: 'b', revision: '' }] },
      expected: ['sources[1].revision: must not be empty'],
    },
    {
      name: 'revision read as an option',
      value: { sources: [{ ...source, revision: '--upload-pack=touch /tmp/x' }] },
      expected: ['sources[0].revision: must not start with "-"'],
    },
    {
      name: 'revision with a range',
      value: { sources: [{ ...source, revision: 'main..evil' }] },
      expected: ['sources[0].revision: is not a valid branch, tag or commit name'],
    },
    {
      name: 'ext transport',
      value: { sources: [{ ...source, repoURL: 'ext::sh -c touch% /tmp/pwned' }] },
      expected: ['sources[0].repoURL: must not contain spaces or control characters'],
    },
    {
      name: 'transport helper',
      value: { sources: [{ ...source, repoURL: 'fd::17' }] },
      expected: ['sources[0].repoURL: transport helpers such as "ext::" are not allowed'],
    },
    {
      name: 'http scheme',
      value: { sources: [{ ...source, repoURL: 'http://git.example.com/ops.git' }] },
      expected: [
        'sources[0].repoURL: scheme "http" is not allowed (use one of https, ssh, git, file)',
      ],
    },
    {
      name: 'token in URL',
      value: { sources: [{ ...source, repoURL: 'https://me:ghp_secret@github.com/o/r.git' }] },
      expected: [
        'sources[0].repoURL: must not carry a password or token; put it in auth.passwordFile',
      ],
    },
    {
      name: 'ssh host read as an option',
      value: { sources: [{ ...source, repoURL: 'ssh://-oProxyCommand=x/repo' }] },
      expected: ['sources[0].repoURL: host must not start with "-"'],
    },
    {
      name: 'path escapes the repository',
      value: { sources: [{ ...source, path: 'apps/../../etc' }] },
      expected: ['sources[0].path: must not leave the repository (no ".." segments)'],
    },
    {
      name: 'absolute path',
      value: { sources: [{ ...source, path: '/etc' }] },
      expected: ['sources[0].path: must be relative to the repository root'],
    },
    {
      name: 'bad duration',
      value: { sources: [{ ...source, pollInterval: '30' }] },
      expected: ['sources[0].pollInterval: must be a duration such as 30s, 4h or 1m30s'],
    },
    {
      name: 'poll too often',
      value: { sources: [{ ...source, pollInterval: '100ms' }] },
      expected: ['sources[0].pollInterval: must be at least 1s'],
    },
    {
      name: 'command without argv',
      value: { sources: [{ ...source, render: 'command' }] },
      expected: [
        'sources[0].command: required when render is command (an argv list such as [helm, template, .])',
      ],
    },
    {
      name: 'command with another renderer',
      value: { sources: [{ ...source, command: ['helm'] }] },
      expected: ['sources[0].command: only used when render is command'],
    },
    {
      name: 'unknown renderer',
      value: { sources: [{ ...source, render: 'helm' }] },
      expected: ['sources[0].render: must be one of plain, kustomize, command'],
    },
    {
      name: 'duplicate source names',
      value: { sources: [source, source] },
      expected: ['sources[1].name: "shop" is already used by sources[0]'],
    },
    {
      name: 'ssh key for an https URL',
      value: {
        sources: [{ ...source, auth: { sshKeyFile: '/k', knownHostsFile: '/kh' } }],
      },
      expected: ['sources[0].auth: sshKeyFile needs an ssh:// or user@host:path repoURL'],
    },
    {
      name: 'ssh key without known hosts',
      value: {
        sources: [{ ...source, repoURL: 'git@github.com:o/r.git', auth: { sshKeyFile: '/k' } }],
      },
      expected: ['sources[0].auth.knownHostsFile: required'],
    },
    {
      name: 'https and ssh credentials together',
      value: {
        sources: [
          {
            ...source,
            repoURL: 'git@github.com:o/r.git',
            auth: { sshKeyFile: '/k', knownHostsFile: '/kh', passwordFile: '/token' },
          },
        ],
      },
      expected: ['sources[0].auth.passwordFile: not used with sshKeyFile and knownHostsFile (ssh)'],
    },
    {
      name: 'a wrong key judged once, not again by the rule that pairs it',
      value: { sources: [source], listen: { certFile: 3, keyFile: '/tls.key' } },
      expected: ['listen.certFile: must be a string'],
    },
    {
      name: 'empty auth',
      value: { sources: [{ ...source, auth: {} }] },
      expected: [
        'sources[0].auth: needs {usernameFile, passwordFile} or {sshKeyFile, knownHostsFile}',
      ],
    },
    {
      name: 'bad mode and port',
      value: { sources: [source], mode: 'off', listen: { port: 70000 } },
      expected: [
        'listen.port: must be a port number between 1 and 65535',
        'mode: must be one of enforce, warn, audit',
      ],
    },
    {
      name: 'ignoreDifferences entry without kind or paths',
      value: { sources: [source], ignoreDifferences: [{ group: 'apps', jsonPointer: ['/x'] }] },
      expected: [
        'ignoreDifferences[0].kind: required',
        'ignoreDifferences[0]: needs jsonPointers, jqPathExpressions or managedFieldsManagers',
        'ignoreDifferences[0].jsonPointer: unknown key',
      ],
    },
    {
      name: 'a jq expression that is more than a path',
      value: {
        sources: [source],
        ignoreDifferences: [
          { kind: 'Pod', jqPathExpressions: ['.spec.containers[] | select(.name == "envoy")'] },
        ],
      },
      expected: [
        'ignoreDifferences[0].jqPathExpressions[0]: only a plain jq path (.spec.replicas, .data["ca.crt"]) is evaluated: write this one as jsonPointers',
      ],
    },
    {
      name: 'jsonPointers that are not pointers',
      value: {
        sources: [source],
        ignoreDifferences: [{ kind: 'Deployment', jsonPointers: ['spec.replicas'] }],
      },
      expected: ['ignoreDifferences[0].jsonPointers[0]: must be a JSON pointer starting with "/"'],
    },
    {
      name: 'override for an unknown field',
      value: { sources: [source], namespaces: { overrides: { shop: { mode: 'off', foo: 1 } } } },
      expected: [
        'namespaces.overrides.shop.mode: must be one of enforce, warn, audit',
        'namespaces.overrides.shop.foo: unknown key',
      ],
    },
    {
      name: 'break-glass pattern and ttl',
      value: { sources: [source], breakGlass: { ttl: '4 hours', ticketPattern: '[' } },
      expected: [
        'breakGlass.ttl: must be a duration such as 30s, 4h or 1m30s',
        'breakGlass.ticketPattern: is not a valid regular expression',
      ],
    },
    {
      name: 'allowance without writers',
      value: {
        sources: [source],
        allowances: [{ kind: 'Service', jsonPointers: ['/spec/selector'] }],
      },
      expected: ['allowances[0]: needs users or groups (whose writes it allows)'],
    },
    {
      name: 'list where a string belongs',
      value: { sources: [source], adminGroups: ['a', 3] },
      expected: ['adminGroups[1]: must be a string'],
    },
  ])('$name', ({ value, expected }) => {
    expect(errorsOf(value)).toEqual(expected);
  });
});
