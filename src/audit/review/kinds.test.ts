import { describe, expect, it } from 'vitest';
import type { AuditEntry } from './entry.js';
import { KindNames } from './kinds.js';

const entry = (fields: Partial<AuditEntry>) => ({ group: '', ...fields }) as AuditEntry;

describe('KindNames', () => {
  it.each([
    { name: 'a Deployment', group: 'apps', resource: 'deployments', kind: 'Deployment' },
    { name: 'a core ConfigMap', group: '', resource: 'configmaps', kind: 'ConfigMap' },
    {
      name: 'an HPA',
      group: 'autoscaling',
      resource: 'horizontalpodautoscalers',
      kind: 'HorizontalPodAutoscaler',
    },
    { name: 'Endpoints, already plural', group: '', resource: 'endpoints', kind: 'Endpoints' },
    {
      name: 'a policy',
      group: 'policy',
      resource: 'poddisruptionbudgets',
      kind: 'PodDisruptionBudget',
    },
  ])('names the built-in kind of $name', ({ group, resource, kind }) => {
    expect(new KindNames().name(entry({ group, resource })).kind).toBe(kind);
  });

  it('learns a custom kind from the decision log, and leaves an unknown one as its resource', () => {
    const names = new KindNames();
    const audited = entry({ group: 'example.com', resource: 'widgets' });
    expect(names.name(audited).kind).toBeUndefined();
    names.name(entry({ group: 'example.com', kind: 'Widget' }));
    expect(names.name(audited).kind).toBe('Widget');
  });
});
