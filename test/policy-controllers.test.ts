// The control plane's own writes, replayed from a real kube-apiserver 1.31 with
// kube-controller-manager using a service account per controller: under `mode: enforce` and
// `unmanaged: deny` none of them may be denied, or the cluster stops working.
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { decide } from '../src/policy/decide.js';
import { edited, review, review131, reviews131 } from './support/fixtures.js';
import { asUser, config, facts, snapshot, snapshot131 } from './support/policy.js';

const NOW = new Date('2026-12-07T01:00:00Z');

/** Everything the capture applied as Argo CD, as Git declares it. */
const git = snapshot131([
  'ns-shop',
  'clusterrole-aggregated',
  'clusterrole-member',
  'deploy-web',
  'hpa-web-v1',
  'cm-finalizer',
  'ns-shop-doomed',
  ['doomed-deploy', 'shop-doomed'],
  ['doomed-cm', 'shop-doomed'],
  ['doomed-fg-deploy', 'shop-doomed'],
]);

const strict = config({ mode: 'enforce', unmanaged: 'deny' });
const judge = (request: AdmissionRequest, cfg = strict) => decide(request, git, facts(), cfg, NOW);

// OpenShift's own controller in this build of kube-controller-manager: see the presets.
const kubernetesControllers = reviews131('controller-').filter(
  ([label]) => !label.includes('service-ca-cert-publisher'),
);

describe('kube-controller-manager’s writes under enforce', () => {
  it('the capture holds writes of many controllers', () => {
    const users = new Set(
      kubernetesControllers.map(([label, stage]) => review131(label, stage).userInfo.username),
    );
    expect(users.size).toBe(8);
  });

  it.each(kubernetesControllers)('%s (%s) is allowed', (label, stage) => {
    const decision = judge(review131(label, stage));
    expect(decision.allowed).toBe(true);
    // A Pod named by generateName has no name yet at the mutating stage: nothing to judge.
    expect(decision.kind === 'exempt' ? 'exempt' : decision.reason).toBe(
      stage.startsWith('mutating') && label.includes('-pods-create') ? 'out-of-scope' : 'exempt',
    );
  });
});

describe('an aggregated ClusterRole that Git declares with rules: []', () => {
  const noExempt = config({ mode: 'enforce', exemptIdentities: { users: [] } });
  const fills = [
    'controller-11-clusterrole-aggregation-controller-clusterroles-update',
    'controller-12-clusterrole-aggregation-controller-clusterroles-update',
  ];

  it.each(fills)('the controller’s refill passes even when it is not exempt: %s', (label) => {
    const request = review131(label);
    // The controller's server-side apply fills rules that Git leaves empty.
    expect(request.object?.rules).toHaveLength(1);
    expect(judge(request, noExempt)).toMatchObject({ allowed: true, reason: 'no-drift' });
  });

  it.each(fills)('with builtins.aggregatedClusterRoles off, it is drift: %s', (label) => {
    const off = config({
      mode: 'enforce',
      exemptIdentities: { users: [] },
      builtins: { aggregatedClusterRoles: false },
    });
    const decision = judge(review131(label), off);
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toEqual(['rules']);
  });

  it('Argo CD’s re-apply of rules: [] and the refill a second later both pass', () => {
    const reapply = review131('12-apply-reapply-clusterrole-aggregated-by-argocd');
    expect(reapply.oldObject?.rules).toHaveLength(1);
    expect(judge(reapply).allowed).toBe(true);
    expect(
      judge(review131('controller-12-clusterrole-aggregation-controller-clusterroles-update'))
        .allowed,
    ).toBe(true);
  });

  it('the rules are the controller’s whoever writes them, the aggregationRule is Git’s', () => {
    const reapply = asUser(
      review131('12-apply-reapply-clusterrole-aggregated-by-argocd'),
      'alice@example.com',
      ['developers'],
    );
    expect(judge(reapply)).toMatchObject({ allowed: true, reason: 'no-drift' });
    const retargeted = {
      ...reapply,
      object: edited(reapply.object!, (o) => {
        o.aggregationRule.clusterRoleSelectors[0].matchLabels = { 'rbac.example.com/any': 'true' };
      }),
    };
    const decision = judge(retargeted);
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toEqual([
      'aggregationRule.clusterRoleSelectors[0].matchLabels[capture.example.com/aggregate-to-shop-reader]',
    ]);
  });

  it('a ClusterRole whose rules Git spells out keeps them', () => {
    const create = asUser(
      review131('11-apply-create-clusterrole-member-by-argocd'),
      'alice@example.com',
      ['developers'],
    );
    const escalated = {
      ...create,
      object: edited(create.object!, (o) => (o.rules[0].verbs = ['*'])),
    };
    expect(judge(create).allowed).toBe(true);
    expect(judge(escalated).drift.map((d) => d.path)).toEqual(['rules[0].verbs']);
    // An aggregationRule added in the cluster does not free the rules either.
    const aggregated = {
      ...create,
      object: edited(escalated.object, (o) => {
        o.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { any: 'true' } }] };
      }),
    };
    expect(judge(aggregated).kind).toBe('denied');
  });
});

describe('platform presets of exemptIdentities', () => {
  const serviceCA = reviews131('controller-').filter(([label]) =>
    label.includes('service-ca-cert-publisher'),
  );

  it('the capture holds OpenShift’s service-ca-cert-publisher', () => {
    expect(serviceCA).toHaveLength(4);
  });

  it.each(serviceCA)('OpenShift’s %s (%s) needs the openshift preset', (label, stage) => {
    const request = review131(label, stage);
    expect(request.userInfo.username).toBe(
      'system:serviceaccount:kube-system:service-ca-cert-publisher',
    );
    expect(judge(request)).toMatchObject({ kind: 'denied', reason: 'unmanaged' });
    const openshift = config({
      mode: 'enforce',
      unmanaged: 'deny',
      exemptIdentities: { presets: ['openshift'] },
    });
    expect(judge(request, openshift).kind).toBe('exempt');
  });

  it('cert-manager’s controller creates its Secrets under unmanaged: deny with its preset', () => {
    const created = asUser(
      review('04-create-secret-stringdata-by-alice'),
      'system:serviceaccount:cert-manager:cert-manager',
      ['system:serviceaccounts', 'system:serviceaccounts:cert-manager'],
    );
    const decideWith = (cfg: ReturnType<typeof config>) =>
      decide(created, snapshot(), facts(), cfg, NOW);
    expect(decideWith(strict)).toMatchObject({ kind: 'denied', reason: 'unmanaged' });
    const withPreset = config({
      mode: 'enforce',
      unmanaged: 'deny',
      exemptIdentities: { presets: ['cert-manager'] },
    });
    expect(decideWith(withPreset).kind).toBe('exempt');
    // A preset is no blanket: cert-manager's service account does not cover OpenShift's.
    const openshiftOnly = config({
      mode: 'enforce',
      unmanaged: 'deny',
      exemptIdentities: { presets: ['openshift'] },
    });
    expect(decideWith(openshiftOnly).kind).toBe('denied');
  });
});
