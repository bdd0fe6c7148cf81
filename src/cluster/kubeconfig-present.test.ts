import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeConfigPresent } from './kubeconfig-present.js';

describe('kubeConfigPresent', () => {
  const home = mkdtempSync(join(tmpdir(), 'driftgate-kubeconfig-'));
  const withConfig = mkdtempSync(join(tmpdir(), 'driftgate-kubeconfig-'));
  mkdirSync(join(withConfig, '.kube'));
  writeFileSync(join(withConfig, '.kube', 'config'), 'apiVersion: v1\nkind: Config\n');
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(withConfig, { recursive: true, force: true });
  });

  it.each([
    {
      name: 'cluster.watch false, even with KUBECONFIG set',
      setting: false,
      env: { HOME: home, KUBECONFIG: '/k' },
      expected: false,
    },
    {
      name: 'auto without any credentials',
      setting: 'auto' as const,
      env: { HOME: home },
      expected: false,
    },
    {
      name: 'auto with KUBECONFIG set',
      setting: 'auto' as const,
      env: { HOME: home, KUBECONFIG: '/k' },
      expected: true,
    },
    {
      name: 'auto with an empty KUBECONFIG',
      setting: 'auto' as const,
      env: { HOME: home, KUBECONFIG: '' },
      expected: false,
    },
    {
      name: 'auto with ~/.kube/config',
      setting: 'auto' as const,
      env: { HOME: withConfig },
      expected: true,
    },
    { name: 'true with ~/.kube/config', setting: true, env: { HOME: withConfig }, expected: true },
    {
      name: 'auto in a pod without a service account token',
      setting: 'auto' as const,
      env: { HOME: home, KUBERNETES_SERVICE_HOST: '10.0.0.1' },
      expected: false,
    },
  ])('$name: $expected', ({ setting, env, expected }) => {
    expect(kubeConfigPresent(setting, env)).toBe(expected);
  });

  it('cluster.watch true without any credentials is a config error naming what is missing', () => {
    expect(() => kubeConfigPresent(true, { HOME: home })).toThrow(
      'cluster.watch is true, but there is no KUBECONFIG, no ~/.kube/config and no in-cluster service account token',
    );
  });
});
