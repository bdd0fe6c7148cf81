// decide() with a source discovered from an Argo CD Application next to a configured one: the
// Application's ignore rules, controller and tracking label count for its own objects only.
import { describe, expect, it } from 'vitest';
import { toRendered } from '../src/desired/manifest-parser.js';
import { buildSnapshot } from '../src/desired/snapshot.js';
import { sourcesFromApplications } from '../src/discovery/argocd.js';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { decide } from '../src/policy/decide.js';
import { edited, manifest, review } from './support/fixtures.js';
import { COMMIT, config, facts } from './support/policy.js';

const NOW = new Date('2026-11-22T03:00:00Z');
const controller = 'system:serviceaccount:argocd:argocd-application-controller';

const application = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: { name: 'shop', namespace: 'argocd' },
  spec: {
    project: 'default',
    source: { repoURL: 'https://git.example.com/ops.git', path: 'apps/shop' },
    destination: { server: 'https://kubernetes.default.svc', namespace: 'shop' },
    // An HPA-style rule, for every workload kind: Argo CD leaves replicas alone.
    ignoreDifferences: [{ group: 'apps', kind: '*', jsonPointers: ['/spec/replicas'] }],
  },
  status: { sync: { status: 'Synced', revision: COMMIT } },
};

const discovered = sourcesFromApplications([application], {
  controller,
  trackingMethod: 'label',
  instanceLabelKey: 'app.kubernetes.io/instance',
  pollIntervalMs: 300_000,
});
const [argoSource] = discovered.sources;
const argoName = argoSource?.name ?? '';

// Only the Application's source names the controller: global sync identities are emptied.
const cfg = config({
  syncIdentities: { users: [] },
  sources: [
    { name: 'team', repoURL: 'https://git.example.com/team.git', path: 'db', namespace: 'shop' },
  ],
});
const sources = [...cfg.sources, ...discovered.sources];

/** deploy-web from the Application; sts-db from the configured source `team`. */
const git = buildSnapshot(
  [
    {
      source: argoName,
      commit: COMMIT,
      namespace: 'shop',
      documents: [
        toRendered({ file: 'apps/shop/deploy-web.yaml', line: 1, object: manifest('deploy-web') }),
      ],
    },
    {
      source: 'team',
      commit: COMMIT,
      namespace: 'shop',
      documents: [toRendered({ file: 'db/sts-db.yaml', line: 1, object: manifest('sts-db') })],
    },
  ],
  'rendered',
);

const judge = (request: AdmissionRequest, with_: readonly (typeof sources)[number][] = sources) =>
  decide(request, git, facts(), cfg, NOW, with_);

describe('a discovered Argo CD source in decide', () => {
  it('maps without problems', () => {
    expect(discovered.problems).toEqual([]);
    expect(argoName).toBe('argocd:argocd/shop');
  });

  it("the Application's ignoreDifferences allow a change to its object", () => {
    expect(judge(review('27-scale-deployment-by-alice'))).toMatchObject({
      kind: 'allowed',
      reason: 'no-drift',
    });
    // Without the discovered source (so without its rules) the same write is denied.
    expect(judge(review('27-scale-deployment-by-alice'), cfg.sources)).toMatchObject({
      kind: 'denied',
    });
  });

  it("the Application's ignoreDifferences do not reach another source's object", () => {
    expect(judge(review('71-scale-statefulset-by-alice'))).toMatchObject({
      kind: 'denied',
      reason: 'drift',
    });
  });

  it('its controller is a sync identity for its objects only', () => {
    expect(judge(review('10-apply-create-deployment-by-argocd'))).toMatchObject({
      kind: 'sync',
      reason: 'sync-identity',
    });
    const onOther = judge(review('70-apply-create-statefulset-by-argocd'));
    expect(onOther.kind).not.toBe('sync');
    expect(onOther.reason).not.toBe('sync-identity');
  });

  it('its tracking label is not compared under label tracking', () => {
    const request = review('20-set-image-deployment-by-alice');
    const relabel = (value: string) => (copy: { metadata: { labels: Record<string, string> } }) => {
      copy.metadata.labels['app.kubernetes.io/instance'] = value;
    };
    // Git declares the label (as Helm charts do); Argo CD overwrites it with the app's name.
    const declaring = buildSnapshot(
      [
        {
          source: argoName,
          commit: COMMIT,
          namespace: 'shop',
          documents: [
            toRendered({
              file: 'apps/shop/deploy-web.yaml',
              line: 1,
              object: edited(manifest('deploy-web'), relabel('web-release')),
            }),
          ],
        },
      ],
      'rendered',
    );
    const write: AdmissionRequest = {
      ...request,
      object: edited(request.oldObject ?? {}, relabel('someone-else')),
    };
    const withLabel = decide(write, declaring, facts(), cfg, NOW, sources);
    expect(withLabel.drift.map((d) => d.path)).not.toContain(
      'metadata.labels[app.kubernetes.io/instance]',
    );
    const annotationTracked = sources.map((source) =>
      source.name === argoName ? { ...source, trackingLabel: null } : source,
    );
    const without = decide(write, declaring, facts(), cfg, NOW, annotationTracked);
    expect(without.drift.map((d) => d.path)).toContain(
      'metadata.labels[app.kubernetes.io/instance]',
    );
  });
});
