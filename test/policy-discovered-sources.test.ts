// decide() with a source discovered from an Argo CD Application next to a configured one: the
// Application's ignore rules, controller and tracking label count for its own objects only, and
// its resource hooks are not its desired state.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../src/config/config.js';
import { toRendered, type RenderedDocument } from '../src/desired/manifest-parser.js';
import { ParseWorkerPool } from '../src/desired/parse-task.js';
import { defaultRenderLimits, renderSource } from '../src/desired/render.js';
import { buildSnapshot } from '../src/desired/snapshot.js';
import { sourcesFromApplications } from '../src/discovery/argocd.js';
import type { AdmissionRequest } from '../src/kube/admission.js';
import type { KubeObject } from '../src/kube/object.js';
import { decide } from '../src/policy/decide.js';
import { tempDir } from './desired/git-fixture.js';
import { edited, fixturePath, manifest, review } from './support/fixtures.js';
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

describe('an Argo CD resource hook in decide', () => {
  // gitops-engine pkg/sync/reconcile.go splitHooks: objects annotated argocd.argoproj.io/hook
  // (or helm.sh/hook) are split off before the diff and run as hooks, never applied as the
  // Application's resources (docs user-guide/resource_hooks.md). Rendered here through the
  // discovered source and the real renderer, as serve would.
  const pool = new ParseWorkerPool();
  const dir = tempDir('driftgate-hooks-');
  const work = tempDir('driftgate-hooks-work-');
  afterAll(async () => {
    await pool.close();
    dir.cleanup();
    work.cleanup();
  });
  const deployment = readFileSync(fixturePath('captured/manifests/deploy-web.yaml'), 'utf8');
  const asHook = deployment.replace(
    '  annotations:\n',
    '  annotations:\n    argocd.argoproj.io/hook: PreSync\n',
  );
  mkdirSync(join(dir.path, 'apps/shop'), { recursive: true });
  writeFileSync(join(dir.path, 'apps/shop/deploy-web.yaml'), asHook);

  const snapshotOf = async (source: SourceConfig) => {
    const documents: RenderedDocument[] = [];
    await renderSource({
      source,
      checkout: dir.path,
      workDir: work.path,
      limits: defaultRenderLimits,
      persist: null,
      parser: pool,
      onDocuments: (chunk) => documents.push(...chunk),
    });
    return buildSnapshot(
      [{ source: source.name, commit: COMMIT, namespace: 'shop', documents }],
      'rendered',
    );
  };

  it("is not the Application's desired state: a person's own object of that name is theirs", async () => {
    if (argoSource === undefined) throw new Error('no discovered source');
    expect(asHook).not.toBe(deployment);
    const snapshot = await snapshotOf(argoSource);
    expect(snapshot.size).toBe(0);
    // A person's own object carries no sync tool's tracking marks (else its record protects it).
    const untracked = (object: unknown) =>
      edited(object as KubeObject, (o) => {
        delete o.metadata.annotations['argocd.argoproj.io/tracking-id'];
      });
    const recorded = review('20-set-image-deployment-by-alice');
    const personsOwn = {
      ...recorded,
      object: untracked(recorded.object),
      oldObject: untracked(recorded.oldObject),
    };
    const decision = decide(personsOwn, snapshot, facts(), cfg, NOW, sources);
    expect(decision).toMatchObject({ kind: 'allowed', drift: [], preexisting: [] });
    expect(decision.warnings.join('\n')).not.toContain('argocd.argoproj.io/hook');

    // Read as kubectl would apply the file (a configured source), the hook is desired state:
    // the write is denied and carries the hook annotation as drift that was already there.
    const { argocd: _argocd, ...asConfigured } = argoSource;
    const kubectlSnapshot = await snapshotOf(asConfigured);
    expect(kubectlSnapshot.size).toBe(1);
    const judged = decide(
      review('20-set-image-deployment-by-alice'),
      kubectlSnapshot,
      facts(),
      cfg,
      NOW,
      [...cfg.sources, asConfigured],
    );
    expect(judged.kind).toBe('denied');
    expect(judged.preexisting.map((drift) => drift.path)).toContain(
      'metadata.annotations[argocd.argoproj.io/hook]',
    );
  });
});
