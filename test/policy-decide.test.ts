// decide() on the AdmissionReviews a real API server sent while kubectl, Argo CD, Flux and the
// controllers wrote to it, with the applied manifests as Git.
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { decide } from '../src/policy/decide.js';
import { edited, manifest, review } from './support/fixtures.js';
import { asUser, config, facts, SHOP_MANIFESTS, snapshot } from './support/policy.js';

const NOW = new Date('2026-11-22T03:00:00Z');
const git = snapshot();
const judge = (
  request: AdmissionRequest,
  options: {
    cfg?: ReturnType<typeof config>;
    cluster?: ReturnType<typeof facts>;
    desired?: typeof git;
    now?: Date;
  } = {},
) =>
  decide(
    request,
    options.desired ?? git,
    options.cluster ?? facts(),
    options.cfg ?? config(),
    options.now ?? NOW,
  );

describe('every captured write, judged in enforce mode', () => {
  it.each([
    { label: '00-apply-create-namespace-shop-by-admin', kind: 'allowed', reason: 'no-drift' },
    { label: '10-apply-create-deployment-by-argocd', kind: 'sync', reason: 'sync-identity' },
    { label: '11-apply-unchanged-deployment-by-argocd', kind: 'sync', reason: 'sync-identity' },
    { label: '20-set-image-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '21-edit-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '22-patch-merge-deployment-by-alice', kind: 'allowed', reason: 'no-drift' },
    { label: '23-patch-json-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '24-patch-strategic-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '25-label-deployment-by-alice', kind: 'allowed', reason: 'no-drift' },
    { label: '26-annotate-deployment-by-alice', kind: 'allowed', reason: 'no-drift' },
    { label: '27-scale-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '28-rollout-restart-deployment-by-alice', kind: 'allowed', reason: 'no-drift' },
    { label: '29-replace-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '30-apply-edited-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '31-apply-dryrun-server-deployment-by-alice', kind: 'denied', reason: 'drift' },
    { label: '40-annotate-break-glass-deployment-by-bob', kind: 'allowed', reason: 'no-drift' },
    {
      label: '45-apply-serverside-create-configmap-by-flux',
      kind: 'sync',
      reason: 'sync-identity',
    },
    {
      label: '46-apply-serverside-update-configmap-by-flux',
      kind: 'sync',
      reason: 'sync-identity',
    },
    { label: '55-delete-dryrun-server-deployment-by-alice', kind: 'denied', reason: 'delete' },
    { label: '56-delete-orphan-deployment-by-alice', kind: 'denied', reason: 'delete' },
    { label: '57-apply-recreate-deployment-by-argocd', kind: 'sync', reason: 'sync-identity' },
    { label: '58-delete-deployment-by-alice', kind: 'denied', reason: 'delete' },
    { label: '60-edit-configmap-data-by-alice', kind: 'denied', reason: 'drift' },
    { label: '61-delete-configmap-by-alice', kind: 'denied', reason: 'delete' },
    { label: '62-patch-secret-data-by-alice', kind: 'denied', reason: 'drift' },
    { label: '63-edit-service-port-by-alice', kind: 'denied', reason: 'drift' },
    { label: '71-scale-statefulset-by-alice', kind: 'denied', reason: 'drift' },
    { label: '75-patch-widget-size-by-alice', kind: 'denied', reason: 'drift' },
    { label: '77-label-clusterrole-by-alice', kind: 'allowed', reason: 'no-drift' },
    { label: '78-label-namespace-by-alice', kind: 'allowed', reason: 'no-drift' },
    { label: '79-delete-hpa-by-argocd', kind: 'sync', reason: 'sync-identity' },
  ])('$label → $kind ($reason)', ({ label, kind, reason }) => {
    const decision = judge(review(label));
    expect({ kind: decision.kind, reason: decision.reason, allowed: decision.allowed }).toEqual({
      kind,
      reason,
      allowed: kind !== 'denied',
    });
  });

  it.each([
    {
      label: 'controller-50-horizontal-pod-autoscaler-deployments-scale-update',
      stage: 'validating',
    },
    {
      label: 'controller-10-deployment-controller-deployments-status-update',
      stage: 'validating.2',
    },
    { label: 'controller-56-generic-garbage-collector-deployments-update', stage: 'validating.2' },
  ])('the control plane is exempt: $label', ({ label, stage }) => {
    expect(judge(review(label, stage))).toMatchObject({ kind: 'exempt', allowed: true });
  });

  it('an object Git does not declare is out of reach: allowed without a record', () => {
    expect(judge(review('04-create-secret-stringdata-by-alice'))).toMatchObject({
      kind: 'allowed',
      reason: 'unmanaged',
      silent: true,
    });
  });
});

describe('the denial names each field, both values, the source, file and commit', () => {
  it('kubectl set image', () => {
    const decision = judge(review('20-set-image-deployment-by-alice'));
    expect(decision.message).toBe(
      [
        'driftgate denied UPDATE of apps/Deployment shop/web by alice@example.com: 1 field differs from Git (source shop, file apps/shop/deploy-web.yaml:1, commit 3f9c2a1b4d5e):',
        '  spec.template.spec.containers[name=app].image: Git has "registry.example.com/shop/web:1.4.2", the request has "registry.example.com/shop/web:1.5.0"',
        'Change it in Git instead, or during an incident set the annotation driftgate.io/break-glass: "<reason>" (allowed for group oncall).',
      ].join('\n'),
    );
    // Drift the write did not make is not held against it, but it is shown.
    expect(decision.warnings).toEqual([
      'driftgate: already drifted, sync will restore it: spec.replicas: Git has 2, the request has 3',
      'driftgate: already drifted, sync will restore it: spec.template.spec.containers[name=app].env[name=LOG_LEVEL].value: Git has "info", the request has "debug"',
    ]);
    expect(decision.origin).toEqual({
      source: 'shop',
      file: 'apps/shop/deploy-web.yaml',
      line: 1,
      commit: '3f9c2a1b4d5e6f708192a3b4c5d6e7f8091a2b3c',
    });
  });

  it('a Secret: the path is named, its values never', () => {
    const decision = judge(review('62-patch-secret-data-by-alice'));
    expect(decision.message).toContain(
      'data.password: Git has "<redacted>", the request has "<redacted>"',
    );
    expect(JSON.stringify(decision)).not.toMatch(/s3cr3t/);
  });

  it('kubectl scale: the Scale is judged against the parent’s spec.replicas', () => {
    const decision = judge(review('27-scale-deployment-by-alice'));
    expect(decision.drift).toEqual([
      { path: 'spec.replicas', pointer: '/spec/replicas', desired: 2, live: 5 },
    ]);
    expect(decision.key).toEqual({
      group: 'apps',
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
    });
  });

  it('a DELETE names the object and what to do instead', () => {
    expect(judge(review('58-delete-deployment-by-alice')).message).toBe(
      'driftgate denied DELETE of apps/Deployment shop/web, which is managed by Git (declared in shop, file apps/shop/deploy-web.yaml, commit 3f9c2a1b4d5e) by alice@example.com. Remove it from Git instead, or during an incident set the annotation driftgate.io/break-glass: "<reason>" (allowed for group oncall).',
    );
  });

  it('dry-run requests are decided the same way, and marked as dry-run', () => {
    expect(judge(review('31-apply-dryrun-server-deployment-by-alice'))).toMatchObject({
      kind: 'denied',
      dryRun: true,
    });
    expect(judge(review('55-delete-dryrun-server-deployment-by-alice'))).toMatchObject({
      kind: 'denied',
      dryRun: true,
    });
  });
});

describe('HPA ownership of spec.replicas', () => {
  const withHpa = snapshot(undefined, [manifest('hpa-web')]);

  it('an HPA declared in Git frees its target’s replicas within its bounds, for scale and for the object', () => {
    // hpa-web allows [2, 3]; Git's Deployment has 2.
    const scale = review('27-scale-deployment-by-alice');
    const toThree = { ...scale, object: edited(scale.object!, (o) => (o.spec.replicas = 3)) };
    expect(judge(toThree, { desired: withHpa })).toMatchObject({
      kind: 'allowed',
      message: expect.stringContaining('spec.replicas is left to HorizontalPodAutoscaler shop/'),
    });
    const edit = review('30-apply-edited-deployment-by-alice');
    const editToThree = {
      ...edit,
      object: edited(edit.object!, (o) => (o.spec.replicas = 3)),
    };
    const decision = judge(editToThree, { desired: withHpa });
    expect(decision.drift.map((d) => d.path)).not.toContain('spec.replicas');
    expect(decision.kind).toBe('denied');
  });

  it('beyond the HPA’s maxReplicas, Git’s count holds, for scale and for the object', () => {
    const scale = judge(review('27-scale-deployment-by-alice'), { desired: withHpa });
    expect(scale.kind).toBe('denied');
    expect(scale.drift).toEqual([
      { path: 'spec.replicas', pointer: '/spec/replicas', desired: 2, live: 5 },
    ]);
    expect(scale.message).toContain(
      'HorizontalPodAutoscaler shop/web allows spec.replicas in [2, 3] only',
    );
    // kubectl apply of an edited copy that sets 4 replicas.
    const edit = judge(review('30-apply-edited-deployment-by-alice'), { desired: withHpa });
    expect(edit.drift.map((d) => d.path)).toContain('spec.replicas');
    expect(edit.message).toContain('allows spec.replicas in [2, 3] only');
  });

  it('an HPA that exists only in the cluster does the same', () => {
    expect(
      judge(review('27-scale-deployment-by-alice'), {
        cluster: facts({ hpaTargets: ['Deployment/web'] }),
      }),
    ).toMatchObject({
      kind: 'allowed',
      message: expect.stringContaining('left to HorizontalPodAutoscaler shop/web'),
    });
  });

  it('the HPA does not free another object', () => {
    expect(judge(review('71-scale-statefulset-by-alice'), { desired: withHpa })).toMatchObject({
      kind: 'denied',
    });
  });
});

describe('modes', () => {
  const setImage = review('20-set-image-deployment-by-alice');

  it.each([
    { name: 'global warn', cfg: () => config({ mode: 'warn' }), cluster: facts(), kind: 'warned' },
    {
      name: 'global audit',
      cfg: () => config({ mode: 'audit' }),
      cluster: facts(),
      kind: 'audited',
    },
    {
      name: 'namespace override in config',
      cfg: () => config({ namespaces: { overrides: { shop: { mode: 'warn' } } } }),
      cluster: facts(),
      kind: 'warned',
    },
    {
      name: 'namespace label beats config',
      cfg: () => config({ mode: 'warn' }),
      cluster: facts({ namespaces: { shop: { labels: { 'driftgate.io/mode': 'enforce' } } } }),
      kind: 'denied',
    },
    {
      name: 'kill switch beats the label',
      cfg: () => config(),
      cluster: facts({
        override: 'audit',
        namespaces: { shop: { labels: { 'driftgate.io/mode': 'enforce' } } },
      }),
      kind: 'audited',
    },
  ])('$name → $kind', ({ cfg, cluster, kind }) => {
    expect(judge(setImage, { cfg: cfg(), cluster }).kind).toBe(kind);
  });

  it('warn mode allows with one short warning per drifted path', () => {
    const decision = judge(setImage, { cfg: config({ mode: 'warn' }) });
    expect(decision.allowed).toBe(true);
    expect(decision.warnings[0]).toBe(
      'driftgate: differs from Git: spec.template.spec.containers[name=app].image: Git has "registry.example.com/shop/web:1.4.2", the request has "registry.example.com/shop/web:1.5.0"',
    );
    expect(decision.warnings.every((w) => w.length <= 256)).toBe(true);
  });

  it('the kill switch turned off allows everything without a record', () => {
    expect(judge(setImage, { cluster: facts({ override: 'off' }) })).toMatchObject({
      allowed: true,
      silent: true,
      reason: 'kill-switch',
    });
  });

  it('an excluded namespace is out of scope', () => {
    expect(judge(setImage, { cfg: config({ namespaces: { exclude: ['shop'] } }) })).toMatchObject({
      allowed: true,
      silent: true,
      reason: 'out-of-scope',
    });
  });

  it('strict field policy denies an undeclared label, declared allows it', () => {
    const label = review('25-label-deployment-by-alice');
    expect(judge(label).kind).toBe('allowed');
    const strict = judge(label, { cfg: config({ fieldPolicy: 'strict' }) });
    expect(strict.kind).toBe('denied');
    expect(strict.drift.map((d) => d.path)).toEqual(['metadata.labels.tier']);
  });

  it('kubectl rollout restart is allowed under strict too, unless the built-in is turned off', () => {
    const restart = review('28-rollout-restart-deployment-by-alice');
    expect(judge(restart, { cfg: config({ fieldPolicy: 'strict' }) }).kind).toBe('allowed');
    expect(
      judge(restart, {
        cfg: config({ fieldPolicy: 'strict', builtins: { rolloutRestart: false } }),
      }).kind,
    ).toBe('denied');
  });

  it('a restart stamp that Git pins is not drift, on any write, unless the built-in is off', () => {
    const stamp = 'kubectl.kubernetes.io/restartedAt';
    const pinned = edited(manifest('deploy-web'), (m) => {
      m.spec.template.metadata.annotations = {
        ...m.spec.template.metadata.annotations,
        [stamp]: '2026-11-01T00:00:00Z',
      };
    });
    const desired = snapshot(
      SHOP_MANIFESTS.filter((name) => name !== 'deploy-web'),
      [pinned],
    );
    // The restart sets a new stamp over Git's; a label write leaves the cluster without any.
    const restart = review('28-rollout-restart-deployment-by-alice');
    const label = review('25-label-deployment-by-alice');
    const stampPath = `spec.template.metadata.annotations[${stamp}]`;
    expect(judge(restart, { desired }).kind).toBe('allowed');
    expect(judge(label, { desired }).preexisting.map((d) => d.path)).not.toContain(stampPath);

    const off = config({ builtins: { rolloutRestart: false } });
    expect(judge(restart, { desired, cfg: off }).kind).toBe('denied');
    expect(judge(label, { desired, cfg: off }).preexisting.map((d) => d.path)).toContain(stampPath);
  });

  it('removing a restart stamp is not drift under strict, unless the built-in is off', () => {
    // kubectl replace with the file from before the restart: only the old object has a stamp,
    // the only annotation of its pod template.
    const replace = review('29-replace-deployment-by-alice');
    const templateAnnotations = (cfg: ReturnType<typeof config>) =>
      judge(replace, { cfg })
        .drift.map((d) => d.path)
        .filter((path) => path.startsWith('spec.template.metadata.annotations'));
    expect(templateAnnotations(config({ fieldPolicy: 'strict' }))).toEqual([]);
    expect(
      templateAnnotations(config({ fieldPolicy: 'strict', builtins: { rolloutRestart: false } })),
    ).toEqual(['spec.template.metadata.annotations']);
  });

  it('unmanaged CREATE can be denied where only GitOps creates things', () => {
    const create = review('04-create-secret-stringdata-by-alice');
    expect(judge(create, { cfg: config({ unmanaged: 'deny' }) })).toMatchObject({
      kind: 'denied',
      reason: 'unmanaged',
    });
    expect(judge(create, { cfg: config({ unmanaged: 'warn' }) })).toMatchObject({
      kind: 'warned',
      reason: 'unmanaged',
    });
  });

  it('allowances let a named controller change named fields', () => {
    const edit = asUser(
      review('60-edit-configmap-data-by-alice'),
      'system:serviceaccount:reloader:reloader',
      [],
    );
    expect(judge(edit).kind).toBe('denied');
    const cfg = config({
      allowances: [
        {
          users: ['system:serviceaccount:reloader:reloader'],
          group: '',
          kind: 'ConfigMap',
          jsonPointers: ['/data/LOG_LEVEL'],
        },
      ],
    });
    expect(judge(edit, { cfg }).kind).toBe('allowed');
  });
});

describe('break-glass', () => {
  const at = '2026-11-22T02:50:00Z';
  const stamps = (by: string, expires = '2026-11-22T06:50:00Z') => ({
    'driftgate.io/break-glass': 'INC-42 rollback',
    'driftgate.io/break-glass-by': by,
    'driftgate.io/break-glass-at': at,
    'driftgate.io/break-glass-expires': expires,
  });
  // The state after driftgate's mutating webhook stamped bob's annotation (step 40).
  const underBreakGlass = (
    request: AdmissionRequest,
    annotations: Record<string, string>,
  ): AdmissionRequest => ({
    ...request,
    object: edited(request.object!, (o) => Object.assign(o.metadata.annotations, annotations)),
    oldObject: edited(request.oldObject!, (o) =>
      Object.assign(o.metadata.annotations, annotations),
    ),
  });
  // Bob changes the image during the incident (alice's captured `kubectl set image`, as bob).
  const setImage = asUser(review('20-set-image-deployment-by-alice'), 'bob@example.com', [
    'oncall',
  ]);

  it('an authorised on-call engineer may change the object while it is active', () => {
    const decision = judge(underBreakGlass(setImage, stamps('bob@example.com')));
    expect(decision).toMatchObject({
      kind: 'break-glass',
      allowed: true,
      breakGlassReason: 'INC-42 rollback',
    });
    expect(decision.drift.map((d) => d.path)).toEqual([
      'spec.template.spec.containers[name=app].image',
    ]);
  });

  it('after expiry the object is judged normally again', () => {
    const expired = underBreakGlass(setImage, stamps('bob@example.com', '2026-11-22T02:59:00Z'));
    expect(judge(expired).kind).toBe('denied');
  });

  it('someone outside the break-glass groups is denied, and told who may act', () => {
    const alice = asUser(
      underBreakGlass(setImage, stamps('bob@example.com')),
      'alice@example.com',
      ['developers'],
    );
    const decision = judge(alice);
    expect(decision.kind).toBe('denied');
    expect(decision.message).toContain(
      'Break-glass is active here (INC-42 rollback), but only group oncall may act under it.',
    );
  });

  it('a break-glass on the Namespace covers its objects, scale writes included', () => {
    const cluster = facts({ namespaces: { shop: { annotations: stamps('bob@example.com') } } });
    const scale = asUser(review('27-scale-deployment-by-alice'), 'bob@example.com', ['oncall']);
    expect(judge(scale, { cluster }).kind).toBe('break-glass');
    expect(
      judge(asUser(review('58-delete-deployment-by-alice'), 'bob@example.com', ['oncall']), {
        cluster,
      }).kind,
    ).toBe('break-glass');
  });

  it('for recording only, compares a write only where its drift could be allowed', () => {
    const setImage = review('20-set-image-deployment-by-alice');
    const recording = (request: AdmissionRequest, cfg = config(), cluster = facts()) =>
      decide(request, git, cluster, cfg, NOW, cfg.sources, { recordingOnly: true });
    // Enforce, no break-glass: denied or allowed, nothing to record, nothing compared.
    expect(recording(setImage)).toMatchObject({
      kind: 'allowed',
      reason: 'not-recordable',
      silent: true,
      drift: [],
    });
    // Warn mode and an authorised break-glass allow the drift: it is compared, as without.
    const warn = config({ mode: 'warn' });
    expect(recording(setImage, warn)).toEqual(judge(setImage, { cfg: warn }));
    const cluster = facts({ namespaces: { shop: { annotations: stamps('bob@example.com') } } });
    const onCall = asUser(setImage, 'bob@example.com', ['oncall']);
    expect(recording(onCall, config(), cluster)).toEqual(judge(onCall, { cluster }));
    expect(recording(onCall, config(), cluster).kind).toBe('break-glass');
    // The sync identity is known before anything is compared.
    const sync = review('11-apply-unchanged-deployment-by-argocd');
    expect(recording(sync).kind).toBe('sync');
  });

  it('only authorised users may set the reason', () => {
    const alice = asUser(review('40-annotate-break-glass-deployment-by-bob'), 'alice@example.com', [
      'developers',
    ]);
    expect(judge(alice)).toMatchObject({ kind: 'denied', reason: 'break-glass-unauthorised' });
    expect(judge(alice).message).toContain('only group oncall may set driftgate.io/break-glass');
  });

  it('the reason must match the ticket pattern when one is configured', () => {
    const cfg = config({ breakGlass: { groups: ['oncall'], ticketPattern: '^JIRA-[0-9]+' } });
    expect(judge(review('40-annotate-break-glass-deployment-by-bob'), { cfg })).toMatchObject({
      kind: 'denied',
      reason: 'break-glass-ticket',
    });
  });

  it.each([
    {
      name: 'a stamp for someone else',
      annotations: {
        'driftgate.io/break-glass-by': 'carol@example.com',
        'driftgate.io/break-glass-at': '2026-11-22T03:00:00Z',
        'driftgate.io/break-glass-expires': '2026-11-22T07:00:00Z',
      },
    },
    {
      name: 'a hand-written expiry',
      annotations: {
        'driftgate.io/break-glass-by': 'bob@example.com',
        'driftgate.io/break-glass-at': '2026-11-22T03:00:00Z',
        'driftgate.io/break-glass-expires': '2027-01-01T00:00:00Z',
      },
    },
    {
      name: 'a stamp from the past',
      annotations: {
        'driftgate.io/break-glass-by': 'bob@example.com',
        'driftgate.io/break-glass-at': '2026-11-21T03:00:00Z',
        'driftgate.io/break-glass-expires': '2026-11-21T07:00:00Z',
      },
    },
  ])('forged stamps are denied: $name', ({ annotations }) => {
    const request = review('40-annotate-break-glass-deployment-by-bob');
    const forged = {
      ...request,
      object: edited(request.object!, (o) => Object.assign(o.metadata.annotations, annotations)),
    };
    expect(judge(forged)).toMatchObject({ kind: 'denied', reason: 'break-glass-stamp' });
  });

  it('stamps made for this request are accepted', () => {
    const request = review('40-annotate-break-glass-deployment-by-bob');
    const stamped = {
      ...request,
      object: edited(request.object!, (o) =>
        Object.assign(o.metadata.annotations, {
          'driftgate.io/break-glass-by': 'bob@example.com',
          'driftgate.io/break-glass-at': '2026-11-22T03:00:00Z',
          'driftgate.io/break-glass-expires': '2026-11-22T07:00:00Z',
        }),
      ),
    };
    expect(judge(stamped).kind).toBe('allowed');
  });
});

describe('namespaces', () => {
  it('only the sync identity and admins may change driftgate.io labels on a Namespace', () => {
    const request = review('78-label-namespace-by-alice');
    const modeLabel = {
      ...request,
      object: edited(request.object!, (o) => (o.metadata.labels['driftgate.io/mode'] = 'audit')),
    };
    expect(judge(modeLabel)).toMatchObject({ kind: 'denied', reason: 'namespace-label' });
    expect(judge(asUser(modeLabel, 'admin', ['system:masters'])).allowed).toBe(true);
  });

  it('deleting a Namespace that holds managed objects is judged as deleting them', () => {
    const namespace = review('00-apply-create-namespace-shop-by-admin').object!;
    const request: AdmissionRequest = {
      ...review('58-delete-deployment-by-alice'),
      kind: { group: '', version: 'v1', kind: 'Namespace' },
      resource: { group: '', version: 'v1', resource: 'namespaces' },
      name: 'shop',
      namespace: 'shop',
      object: null,
      oldObject: namespace,
    };
    const decision = judge(request);
    expect(decision.kind).toBe('denied');
    expect(decision.message).toContain(
      'DELETE of Namespace shop, which holds 9 objects managed by Git',
    );
  });

  it('an object being deleted may have its finalizers removed', () => {
    const request = review(
      'controller-56-generic-garbage-collector-deployments-update',
      'validating.2',
    );
    expect(judge(asUser(request, 'alice@example.com', ['developers']))).toMatchObject({
      allowed: true,
      reason: 'deleting',
    });
  });
});
