import { describe, expect, it } from 'vitest';
import { readArgoCDSettings } from './argocd-settings.js';

describe('argocd-cm settings', () => {
  it('reads the system-level ignore rules: all, group_Kind and a core kind alone', () => {
    const settings = readArgoCDSettings({
      'resource.customizations.ignoreDifferences.all':
        'managedFieldsManagers:\n- kube-controller-manager\n',
      'resource.customizations.ignoreDifferences.admissionregistration.k8s.io_MutatingWebhookConfiguration':
        "jqPathExpressions:\n- '.webhooks[]?.clientConfig.caBundle'\n",
      'resource.customizations.ignoreDifferences.Service': 'jsonPointers:\n- /spec/clusterIP\n',
      'resource.customizations.health.apps_Deployment': 'hs = {}\nreturn hs\n',
    });
    expect(settings.ignoreDifferences).toEqual([
      { group: '*', kind: '*', managedFieldsManagers: ['kube-controller-manager'] },
      {
        group: 'admissionregistration.k8s.io',
        kind: 'MutatingWebhookConfiguration',
        jqPathExpressions: ['.webhooks[]?.clientConfig.caBundle'],
      },
      { group: '', kind: 'Service', jsonPointers: ['/spec/clusterIP'] },
    ]);
    expect(settings.problems).toEqual([]);
  });

  it('reads the older resource.customizations map too', () => {
    const settings = readArgoCDSettings({
      'resource.customizations':
        'apps/Deployment:\n  ignoreDifferences: |\n    jsonPointers:\n    - /spec/replicas\n' +
        'Service:\n  health.lua: |\n    return {}\n',
    });
    expect(settings.ignoreDifferences).toEqual([
      { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
    ]);
  });

  it('takes the tracking method and instance label key Argo CD uses', () => {
    expect(
      readArgoCDSettings({
        'application.resourceTrackingMethod': 'label',
        'application.instanceLabelKey': 'argocd.argoproj.io/instance',
      }),
    ).toMatchObject({ trackingMethod: 'label', instanceLabelKey: 'argocd.argoproj.io/instance' });
    expect(readArgoCDSettings({})).toEqual({ ignoreDifferences: [], problems: [] });
    expect(readArgoCDSettings(undefined)).toEqual({ ignoreDifferences: [], problems: [] });
  });

  it('reports what it cannot read instead of guessing', () => {
    const settings = readArgoCDSettings({
      'application.resourceTrackingMethod': 'by-magic',
      'resource.customizations.ignoreDifferences.apps_Deployment': 'jsonPointers: [unclosed',
    });
    expect(settings.trackingMethod).toBeUndefined();
    expect(settings.ignoreDifferences).toEqual([]);
    expect(settings.problems.map((problem) => problem.reason)).toEqual([
      "resource.customizations.ignoreDifferences.apps_Deployment is not YAML; Argo CD's system-level ignore rules for it are not honoured",
      "application.resourceTrackingMethod by-magic is unknown; the config's is used",
    ]);
  });
});
