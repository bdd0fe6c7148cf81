// The drift engine on real objects: manifests against what a real API server stored for them,
// and Argo CD's own desired/live pairs.
import { describe, expect, it } from 'vitest';
import { diff, diffWrite } from '../src/drift/diff.js';
import type { KubeObject } from '../src/kube/object.js';
import { argo, edited, manifest, review } from './support/fixtures.js';

const live = (label: string, stage: 'validating' | 'mutating' = 'validating'): KubeObject => {
  const object = review(label, stage).object;
  if (object == null) throw new Error(`${label} has no object`);
  return object;
};

const paths = (drift: readonly { path: string }[]) => drift.map((d) => d.path);

describe('a manifest against the object the API server created from it', () => {
  const created = [
    { manifest: 'ns-shop', review: '00-apply-create-namespace-shop-by-admin' },
    { manifest: 'sa-web', review: '01-apply-create-serviceaccount-by-argocd' },
    { manifest: 'cm-web-config', review: '02-apply-create-configmap-by-argocd' },
    // stringData in Git, base64 data on the server.
    { manifest: 'secret-db-creds', review: '03-apply-create-secret-stringdata-by-argocd' },
    // clusterIP, sessionAffinity and port protocols defaulted by the server.
    { manifest: 'svc-web', review: '05-apply-create-service-by-argocd' },
    // `cpu: "0.5"` stored as 500m; probes, strategy and pull policy defaulted.
    { manifest: 'deploy-web', review: '10-apply-create-deployment-by-argocd' },
    { manifest: 'cm-flux-settings', review: '45-apply-serverside-create-configmap-by-flux' },
    { manifest: 'hpa-web', review: '50-apply-create-hpa-by-argocd' },
    // volumeClaimTemplates gain apiVersion, kind, volumeMode and status on the server.
    { manifest: 'sts-db', review: '70-apply-create-statefulset-by-argocd' },
    { manifest: 'role-web', review: '72-apply-create-role-by-argocd' },
    { manifest: 'rolebinding-web', review: '73-apply-create-rolebinding-by-argocd' },
    { manifest: 'widget-blue', review: '74-apply-create-widget-by-argocd' },
    { manifest: 'clusterrole-widgets', review: '76-apply-create-clusterrole-by-argocd' },
  ];

  it.each(
    created.flatMap((c) => (['mutating', 'validating'] as const).map((stage) => ({ ...c, stage }))),
  )('$manifest is in sync at the $stage stage', ({ manifest: name, review: label, stage }) => {
    expect(diff(manifest(name), live(label, stage))).toEqual([]);
  });

  it('an unchanged re-apply is in sync, although kubectl still sent a patch', () => {
    const request = review('11-apply-unchanged-deployment-by-argocd');
    expect(diff(manifest('deploy-web'), live('11-apply-unchanged-deployment-by-argocd'))).toEqual(
      [],
    );
    expect(diffWrite(manifest('deploy-web'), request.oldObject!, request.object!)).toEqual({
      introduced: [],
      preexisting: [],
    });
  });
});

describe('declared fields changed in real objects are reported at their exact path', () => {
  const deployment = live('10-apply-create-deployment-by-argocd');
  const app = 'spec.template.spec.containers[name=app]';

  it.each([
    {
      name: 'an image',
      edit: (d: any) =>
        (d.spec.template.spec.containers[0].image = 'registry.example.com/shop/web:9'),
      expected: [
        {
          path: `${app}.image`,
          pointer: '/spec/template/spec/containers/0/image',
          desired: 'registry.example.com/shop/web:1.4.2',
          live: 'registry.example.com/shop/web:9',
        },
      ],
    },
    {
      name: 'an env value',
      edit: (d: any) => (d.spec.template.spec.containers[0].env[0].value = 'debug'),
      expected: [
        {
          path: `${app}.env[name=LOG_LEVEL].value`,
          pointer: '/spec/template/spec/containers/0/env/0/value',
          desired: 'info',
          live: 'debug',
        },
      ],
    },
    {
      name: 'a container port',
      edit: (d: any) => (d.spec.template.spec.containers[1].ports[0].containerPort = 9200),
      expected: [
        {
          path: 'spec.template.spec.containers[name=sidecar].ports[containerPort=9100]',
          pointer: '/spec/template/spec/containers/1/ports/0',
          desired: { name: 'metrics', containerPort: 9100 },
        },
      ],
    },
    {
      name: 'a label',
      edit: (d: any) => (d.metadata.labels['app.kubernetes.io/name'] = 'webapp'),
      expected: [
        {
          path: 'metadata.labels[app.kubernetes.io/name]',
          pointer: '/metadata/labels/app.kubernetes.io~1name',
          desired: 'web',
          live: 'webapp',
        },
      ],
    },
    {
      name: 'a memory limit',
      edit: (d: any) => (d.spec.template.spec.containers[0].resources.limits.memory = '2G'),
      expected: [
        {
          path: `${app}.resources.limits.memory`,
          pointer: '/spec/template/spec/containers/0/resources/limits/memory',
          desired: '1G',
          live: '2G',
        },
      ],
    },
    {
      name: 'a removed volume mount',
      edit: (d: any) => d.spec.template.spec.containers[0].volumeMounts.splice(1, 1),
      expected: [
        {
          path: `${app}.volumeMounts[mountPath=/var/log/web]`,
          pointer: '/spec/template/spec/containers/0/volumeMounts/1',
          desired: { name: 'logs', mountPath: '/var/log/web' },
        },
      ],
    },
  ])('$name', ({ edit, expected }) => {
    expect(diff(manifest('deploy-web'), edited(deployment, edit))).toEqual(expected);
  });

  it.each([
    { name: 'cpu as a whole number of millicores', cpu: '500m' },
    { name: 'cpu as a decimal', cpu: '0.5' },
    { name: 'cpu in scientific notation', cpu: '5e-1' },
  ])('a quantity written differently but equal is no drift: $name', ({ cpu }) => {
    const changed = edited(
      deployment,
      (d) => (d.spec.template.spec.containers[0].resources.limits.cpu = cpu),
    );
    expect(diff(manifest('deploy-web'), changed)).toEqual([]);
  });

  it('containers and env entries in another order are no drift', () => {
    const reordered = edited(deployment, (d) => {
      d.spec.template.spec.containers.reverse();
      d.spec.template.spec.containers[1].env.reverse();
    });
    expect(diff(manifest('deploy-web'), reordered)).toEqual([]);
  });

  it('a Secret value changed on the server is reported, and never printed', () => {
    const secret = live('03-apply-create-secret-stringdata-by-argocd');
    const changed = edited(
      secret,
      (s) => (s.data.password = Buffer.from('hunter2').toString('base64')),
    );
    const drift = diff(manifest('secret-db-creds'), changed);
    expect(drift).toEqual([
      {
        path: 'data.password',
        pointer: '/data/password',
        desired: '<redacted>',
        live: '<redacted>',
      },
    ]);
    expect(JSON.stringify(drift)).not.toMatch(/s3cr3t|hunter2|aHVudGVy/);
  });

  it('a Service port number changed by kubectl edit', () => {
    const request = review('63-edit-service-port-by-alice');
    expect(paths(diff(manifest('svc-web'), request.object!))).toEqual(['spec.ports[port=80]']);
  });

  it('the size of a custom resource', () => {
    expect(diff(manifest('widget-blue'), live('75-patch-widget-size-by-alice'))).toEqual([
      { path: 'spec.size', pointer: '/spec/size', desired: 3, live: 5 },
    ]);
  });
});

describe('what a real write introduced, and what was there before', () => {
  // Alice's kubectl session: set image (20), edit env (21), merge patch (22), JSON patch (23),
  // strategic patch (24), label (25), annotate (26), rollout restart (28), replace (29).
  const app = 'spec.template.spec.containers[name=app]';
  it.each([
    {
      label: '20-set-image-deployment-by-alice',
      introduced: [`${app}.image`],
      preexisting: ['spec.replicas', `${app}.env[name=LOG_LEVEL].value`],
    },
    {
      label: '21-edit-deployment-by-alice',
      introduced: [`${app}.env[name=LOG_LEVEL].value`],
      preexisting: ['spec.replicas', `${app}.image`],
    },
    {
      label: '23-patch-json-deployment-by-alice',
      introduced: [`${app}.resources.limits.memory`],
      preexisting: ['spec.replicas', `${app}.image`, `${app}.env[name=LOG_LEVEL].value`],
    },
    {
      label: '24-patch-strategic-deployment-by-alice',
      introduced: ['spec.template.spec.containers[name=sidecar].env[name=SHIPPER_MODE].value'],
      preexisting: [
        'spec.replicas',
        `${app}.image`,
        `${app}.env[name=LOG_LEVEL].value`,
        `${app}.resources.limits.memory`,
      ],
    },
    {
      label: '29-replace-deployment-by-alice',
      introduced: [`${app}.image`, `${app}.env[name=LOG_LEVEL].value`],
      preexisting: ['spec.replicas'],
    },
    {
      // The apply re-sent replicas, image and memory; LOG_LEVEL stayed as it was.
      label: '30-apply-edited-deployment-by-alice',
      introduced: ['spec.replicas', `${app}.image`, `${app}.resources.limits.memory`],
      preexisting: [`${app}.env[name=LOG_LEVEL].value`],
    },
  ])('$label', ({ label, introduced, preexisting }) => {
    const request = review(label);
    const drift = diffWrite(manifest('deploy-web'), request.oldObject!, request.object!);
    expect(paths(drift.introduced)).toEqual(introduced);
    expect(paths(drift.preexisting)).toEqual(preexisting);
  });

  it.each([
    { label: '22-patch-merge-deployment-by-alice', strict: ['spec.minReadySeconds'] },
    { label: '25-label-deployment-by-alice', strict: ['metadata.labels.tier'] },
    {
      label: '26-annotate-deployment-by-alice',
      strict: ['metadata.annotations[shop.example.com/owner]'],
    },
  ])(
    '$label changes only undeclared fields: allowed when declared, reported when strict',
    ({ label, strict }) => {
      const request = review(label);
      const declared = diffWrite(manifest('deploy-web'), request.oldObject!, request.object!);
      expect(declared.introduced).toEqual([]);
      const strictDrift = diffWrite(manifest('deploy-web'), request.oldObject!, request.object!, {
        fieldPolicy: 'strict',
      });
      expect(paths(strictDrift.introduced)).toEqual(strict);
    },
  );

  it('a label added to a cluster-scoped ClusterRole is undeclared drift under strict', () => {
    const request = review('77-label-clusterrole-by-alice');
    const strict = diffWrite(manifest('clusterrole-widgets'), request.oldObject!, request.object!, {
      fieldPolicy: 'strict',
    });
    expect(strict.introduced).toEqual([
      { path: 'metadata.labels.tier', pointer: '/metadata/labels/tier', live: 'frontend' },
    ]);
  });

  it('a Flux server-side apply of the next Git revision introduces nothing against that revision', () => {
    const request = review('46-apply-serverside-update-configmap-by-flux');
    expect(
      diffWrite(manifest('cm-flux-settings-v2'), request.oldObject!, request.object!, {
        fieldPolicy: 'strict',
      }),
    ).toEqual({ introduced: [], preexisting: [] });
  });

  it('a Secret patched by hand: the path is named, the values are not', () => {
    const request = review('62-patch-secret-data-by-alice');
    const drift = diffWrite(manifest('secret-db-creds'), request.oldObject!, request.object!);
    expect(drift.introduced).toEqual([
      {
        path: 'data.password',
        pointer: '/data/password',
        desired: '<redacted>',
        live: '<redacted>',
      },
    ]);
  });
});

describe("Argo CD's desired/live pairs", () => {
  const T = 'gitops-engine/pkg/diff/testdata/';
  const I = 'gitops-engine/pkg/diff/diff_test.go.inline/';

  it.each([
    {
      name: 'TestThreeWayDiffExample1: a ServiceAccount with token secrets added',
      desired: `${I}demoConfig.json`,
      live: `${I}demoLive.json`,
    },
    {
      name: 'TestThreeWayDiffExample2: a StatefulSet from apps/v1beta1 with server defaults',
      desired: `${T}elasticsearch-config.json`,
      live: `${T}elasticsearch-live.json`,
    },
    {
      name: 'TestThreeWayDiffExample3: a Deployment with defaults and status',
      desired: `${T}deployment-config.json`,
      live: `${T}deployment-live.json`,
    },
    {
      name: 'TestThreeWayDiffExample4: a webhook configuration whose caBundle was injected',
      desired: `${T}mutatingwebhookconfig-config.json`,
      live: `${T}mutatingwebhookconfig-live.json`,
    },
    {
      name: 'TestThreeWayDiffExplicitNamespace',
      desired: `${T}spinnaker-sa-config.json`,
      live: `${T}spinnaker-sa-live.json`,
    },
    {
      name: 'TestUnsortedEndpoints: the same addresses in another order',
      desired: `${T}endpoints-config.json`,
      live: `${T}endpoints-live.json`,
    },
    {
      name: 'TestNullRoleRule: rules [] in Git, null live',
      desired: `${T}grafana-clusterrole-config.json`,
      live: `${T}grafana-clusterrole-live.json`,
    },
    {
      name: 'TestNullCreationTimestamp',
      desired: `${T}sealedsecret-config.json`,
      live: `${T}sealedsecret-live.json`,
    },
    {
      name: 'TestNullSecretData: "" in Git, null live',
      desired: `${T}wordpress-config.json`,
      live: `${T}wordpress-live.json`,
    },
    {
      name: 'TestSecretStringData: stringData in Git, data live',
      desired: `${I}secretConfig.yaml`,
      live: `${I}secretLive.yaml`,
    },
    {
      name: 'TestIgnoreNamespaceForClusterScopedResources',
      desired: `${I}customObjConfig.yaml`,
      live: `${I}customObjLive.yaml`,
    },
    {
      name: 'structured merge diff: Deployment defaults applied',
      desired: `${T}smd-deploy-config.yaml`,
      live: `${T}smd-deploy-live.yaml`,
    },
  ])('in sync for Argo CD and for driftgate: $name', ({ desired, live: liveFile }) => {
    expect(diff(argo(desired), argo(liveFile))).toEqual([]);
  });

  // Argo CD compares whole objects (and with IgnoreAggregatedRoles(false) even aggregated rules);
  // driftgate compares only what Git declares, so fields that exist only on the server are no
  // drift by themselves. Writes that add such fields are caught by the strict field policy.
  it.each([
    {
      name: 'aggregated ClusterRole: rules filled by the aggregation controller are not declared',
      desired: `${T}aggr-clusterrole-config.json`,
      live: `${T}aggr-clusterrole-live.json`,
    },
    {
      name: 'ConfigMap key present only on the server (Argo: out of sync)',
      desired: `${T}ssd-configmap-config.yaml`,
      live: `${T}ssd-configmap-live.yaml`,
    },
    {
      name: 'Service label present only on the server (Argo: out of sync)',
      desired: `${T}ssd-svc-no-label-config.yaml`,
      live: `${T}ssd-svc-label-live.yaml`,
    },
    {
      name: 'Service ports present only on the server (Argo: out of sync)',
      desired: `${T}smd-service-config-2-ports.yaml`,
      live: `${T}smd-service-live.yaml`,
    },
    {
      name: 'Deployment resources set by a mutating webhook (Argo: out of sync)',
      desired: `${T}smd-deploy2-config.yaml`,
      live: `${T}smd-deploy2-live.yaml`,
    },
    {
      name: 'Service label added by a mutating webhook (Argo: out of sync)',
      desired: `${T}ssd-service-config.yaml`,
      live: `${T}ssd-service-live.yaml`,
    },
  ])('semantics differ on purpose, no declared drift: $name', ({ desired, live: liveFile }) => {
    expect(diff(argo(desired), argo(liveFile))).toEqual([]);
  });

  it.each([
    {
      name: 'a Service targetPort differs',
      desired: `${T}smd-service-config.yaml`,
      live: `${T}smd-service-live.yaml`,
      expected: ['spec.ports[port=1935].targetPort'],
    },
    {
      name: 'UDP ports with the same numbers as TCP ones are missing (composite key)',
      desired: `${T}smd-service-config-ports.yaml`,
      live: `${T}smd-service-live.yaml`,
      expected: ['spec.ports[port=1935,protocol=UDP]', 'spec.ports[port=443,protocol=UDP]'],
    },
    {
      name: 'a third container port is missing',
      desired: `${T}ssd-deploy-composite-key-config.yaml`,
      live: `${T}ssd-deploy-composite-key-live.yaml`,
      expected: ['spec.template.spec.containers[name=nginx].ports[containerPort=8080]'],
    },
    {
      name: 'a port and an env var are missing',
      desired: `${T}ssd-deploy-nested-config.yaml`,
      live: `${T}ssd-deploy-nested-live.yaml`,
      expected: [
        'spec.template.spec.containers[name=main-container].ports[containerPort=443]',
        'spec.template.spec.containers[name=main-container].env[name=ENV_VAR2]',
      ],
    },
    {
      name: 'replicas and revisionHistoryLimit changed by other managers',
      desired: 'util/argo/testdata/desired_deployment.yaml',
      live: 'util/argo/testdata/live_deployment_with_managed_replica.yaml',
      expected: ['spec.replicas', 'spec.revisionHistoryLimit'],
    },
    {
      name: 'a PDB selector differs',
      desired: 'controller/testdata/target-pdb.yaml',
      live: 'controller/testdata/live-pdb.yaml',
      expected: ['spec.selector.matchLabels.app', 'spec.selector.matchLabels.version'],
    },
  ])('out of sync for both: $name', ({ desired, live: liveFile, expected }) => {
    expect(paths(diff(argo(desired), argo(liveFile)))).toEqual(expected);
  });
});

describe('ignoreDifferences rules on Argo CD test data', () => {
  const desired = argo('util/argo/testdata/desired_deployment.yaml');
  const liveDeployment = argo('util/argo/testdata/live_deployment_with_managed_replica.yaml');

  it.each([
    {
      name: 'managedFieldsManagers: fields owned by kube-controller-manager',
      rule: {
        group: 'apps',
        kind: 'Deployment',
        managedFieldsManagers: ['kube-controller-manager'],
      },
      expected: ['spec.revisionHistoryLimit'],
    },
    {
      name: 'managedFieldsManagers: both owners of the drifted fields',
      rule: {
        group: 'apps',
        kind: 'Deployment',
        managedFieldsManagers: ['kube-controller-manager', 'revision-history-manager'],
      },
      expected: [],
    },
    {
      name: 'managedFieldsManagers: a manager that owns nothing',
      rule: { group: 'apps', kind: 'Deployment', managedFieldsManagers: ['some-other-manager'] },
      expected: ['spec.replicas', 'spec.revisionHistoryLimit'],
    },
    {
      name: 'jsonPointers: /spec/replicas',
      rule: { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
      expected: ['spec.revisionHistoryLimit'],
    },
    {
      name: 'a rule for another kind does not apply',
      rule: { group: 'apps', kind: 'StatefulSet', jsonPointers: ['/spec/replicas'] },
      expected: ['spec.replicas', 'spec.revisionHistoryLimit'],
    },
    {
      name: 'a rule for another name does not apply',
      rule: { group: 'apps', kind: 'Deployment', name: 'other', jsonPointers: ['/spec/replicas'] },
      expected: ['spec.replicas', 'spec.revisionHistoryLimit'],
    },
    {
      name: 'wildcard kind',
      rule: {
        group: '*',
        kind: '*',
        jsonPointers: ['/spec/replicas', '/spec/revisionHistoryLimit'],
      },
      expected: [],
    },
  ])('$name', ({ rule, expected }) => {
    expect(paths(diff(desired, liveDeployment, { ignore: [rule] }))).toEqual(expected);
  });

  it('managedFieldsManagers removes a caBundle inside the webhooks list', () => {
    const drift = diff(
      argo('util/argo/testdata/desired_validating_webhook.yaml'),
      argo('util/argo/testdata/live_validating_webhook.yaml'),
      {
        ignore: [
          {
            group: 'admissionregistration.k8s.io',
            kind: 'ValidatingWebhookConfiguration',
            managedFieldsManagers: ['external-secrets'],
          },
        ],
      },
    );
    expect(drift).toEqual([]);
  });

  it('a janitor-managed annotation is ignored; the replicas drift stays', () => {
    const drift = diff(
      argo('controller/testdata/target-deployment.yaml'),
      argo('controller/testdata/live-deployment.yaml'),
      { ignore: [{ group: 'apps', kind: 'Deployment', managedFieldsManagers: ['janitor'] }] },
    );
    expect(paths(drift)).toEqual(['spec.replicas']);
  });

  it('a pointer into a selector ignores only that label (Argo CD issue 18232)', () => {
    const drift = diff(
      argo('controller/testdata/target-pdb.yaml'),
      argo('controller/testdata/live-pdb.yaml'),
      {
        ignore: [
          {
            group: 'policy',
            kind: 'PodDisruptionBudget',
            jsonPointers: ['/spec/selector/matchLabels/version'],
          },
        ],
      },
    );
    expect(paths(drift)).toEqual(['spec.selector.matchLabels.app']);
  });
});
