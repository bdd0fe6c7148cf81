import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../kube/object.js';
import { diff, diffWrite } from './diff.js';
import { validateIgnoreRules } from './ignore.js';

// Small builders: a Deployment with one container, and a ConfigMap, changed by `mods`.
type Mod = (object: any) => void;
function deployment(...mods: Mod[]): KubeObject {
  const object = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
    spec: {
      replicas: 2,
      template: {
        spec: {
          containers: [
            {
              name: 'web',
              image: 'web:1',
              args: ['--port=8080', '--verbose'],
              ports: [{ containerPort: 8080 }],
              env: [{ name: 'MODE', value: 'prod' }],
              resources: { limits: { cpu: '1', memory: '1Gi' } },
            },
          ],
        },
      },
    },
  };
  for (const mod of mods) mod(object);
  return object;
}

function configMap(...mods: Mod[]): KubeObject {
  const object = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace: 'shop' },
    data: { mode: 'prod' },
  };
  for (const mod of mods) mod(object);
  return object;
}

const container = (d: any) => d.spec.template.spec.containers[0];
const paths = (drift: readonly { path: string }[]) => drift.map((d) => d.path);

describe('diff: declared fields', () => {
  it.each([
    { name: 'identical objects', desired: deployment(), live: deployment() },
    {
      name: 'server defaults Git does not declare',
      desired: deployment(),
      live: deployment((d) => {
        d.spec.template.spec.dnsPolicy = 'ClusterFirst';
        container(d).imagePullPolicy = 'IfNotPresent';
        container(d).ports[0].protocol = 'TCP';
      }),
    },
    {
      name: 'an env entry Git does not list',
      desired: deployment(),
      live: deployment((d) => container(d).env.push({ name: 'EXTRA', value: '1' })),
    },
    {
      name: 'status and server-managed metadata',
      desired: deployment(),
      live: deployment((d) => {
        d.status = { replicas: 7 };
        Object.assign(d.metadata, {
          uid: 'u',
          resourceVersion: '9',
          generation: 4,
          creationTimestamp: '2026-01-01T00:00:00Z',
          managedFields: [{ manager: 'x' }],
          ownerReferences: [{ uid: 'o' }],
          finalizers: ['f'],
        });
      }),
    },
    {
      name: 'metadata Git declares but the server owns',
      desired: deployment((d) =>
        Object.assign(d.metadata, { creationTimestamp: null, generation: 1, finalizers: ['a'] }),
      ),
      live: deployment(),
    },
    {
      name: "last-applied, driftgate's own and Argo CD's tracking annotations",
      desired: deployment((d) => {
        d.metadata.annotations = {
          'argocd.argoproj.io/tracking-id': 'app:apps/Deployment:shop/web',
          'driftgate.io/drift': '["x"]',
        };
      }),
      live: deployment((d) => {
        d.metadata.annotations = {
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
          'argocd.argoproj.io/tracking-id': 'other:apps/Deployment:shop/web',
          'argocd.argoproj.io/installation-id': 'abc',
          'driftgate.io/drift': '["y"]',
        };
      }),
    },
    {
      name: 'null, a map\'s {}, [] and "" in Git against an absent field',
      desired: deployment((d) => {
        d.spec.revisionHistoryLimit = null;
        d.spec.template.spec.nodeSelector = {};
        d.spec.template.spec.tolerations = [];
        d.spec.template.spec.hostname = '';
      }),
      live: deployment(),
    },
    {
      // The API server does not store the zero of an omitempty field (captured-1.31, step 40).
      name: 'a zero the API server does not store, against an absent field',
      desired: deployment((d) => {
        d.spec.paused = false;
        d.spec.minReadySeconds = 0;
      }),
      live: deployment(),
    },
    {
      name: 'null in Git declares nothing, whatever the object holds',
      desired: deployment((d) => (d.spec.minReadySeconds = null)),
      live: deployment((d) => (d.spec.minReadySeconds = 5)),
    },
    {
      name: 'quantities written differently',
      desired: deployment((d) => (container(d).resources.limits = { cpu: 1, memory: '1024Mi' })),
      live: deployment((d) => (container(d).resources.limits = { cpu: '1000m', memory: '1Gi' })),
    },
    {
      name: 'a different apiVersion of the same kind',
      desired: deployment((d) => (d.apiVersion = 'apps/v1beta2')),
      live: deployment(),
    },
    {
      name: 'a container port without protocol matches the TCP one',
      desired: deployment(),
      live: deployment((d) => (container(d).ports = [{ containerPort: 8080, protocol: 'TCP' }])),
    },
  ])('no drift: $name', ({ desired, live }) => {
    expect(diff(desired, live)).toEqual([]);
  });

  it.each([
    {
      // The API server keeps an empty struct (`securityContext: {}`): Git's {} declares it.
      name: "a struct's {} is there or not",
      desired: deployment((d) => (d.spec.template.spec.securityContext = {})),
      live: deployment(),
      expected: [
        {
          path: 'spec.template.spec.securityContext',
          pointer: '/spec/template/spec/securityContext',
          desired: {},
        },
      ],
    },
    {
      name: '0 is a value where the object holds another',
      desired: deployment((d) => (d.spec.replicas = 0)),
      live: deployment(),
      expected: [{ path: 'spec.replicas', pointer: '/spec/replicas', desired: 0, live: 2 }],
    },
    {
      name: 'a missing map is reported leaf by leaf',
      desired: deployment(),
      live: deployment((d) => delete container(d).resources),
      expected: [
        {
          path: 'spec.template.spec.containers[name=web].resources.limits.cpu',
          pointer: '/spec/template/spec/containers/0/resources/limits/cpu',
          desired: '1',
        },
        {
          path: 'spec.template.spec.containers[name=web].resources.limits.memory',
          pointer: '/spec/template/spec/containers/0/resources/limits/memory',
          desired: '1Gi',
        },
      ],
    },
    {
      name: 'args are an atomic list: order matters',
      desired: deployment(),
      live: deployment((d) => container(d).args.reverse()),
      expected: [
        {
          path: 'spec.template.spec.containers[name=web].args[0]',
          pointer: '/spec/template/spec/containers/0/args/0',
          desired: '--port=8080',
          live: '--verbose',
        },
        {
          path: 'spec.template.spec.containers[name=web].args[1]',
          pointer: '/spec/template/spec/containers/0/args/1',
          desired: '--verbose',
          live: '--port=8080',
        },
      ],
    },
    {
      name: 'an atomic list of another length is reported whole',
      desired: deployment(),
      live: deployment((d) => container(d).args.push('--debug')),
      expected: [
        {
          path: 'spec.template.spec.containers[name=web].args',
          pointer: '/spec/template/spec/containers/0/args',
          desired: ['--port=8080', '--verbose'],
          live: ['--port=8080', '--verbose', '--debug'],
        },
      ],
    },
    {
      name: 'an empty atomic list in Git against a filled one',
      desired: deployment((d) => (container(d).args = [])),
      live: deployment(),
      expected: [
        {
          path: 'spec.template.spec.containers[name=web].args',
          pointer: '/spec/template/spec/containers/0/args',
          desired: [],
          live: ['--port=8080', '--verbose'],
        },
      ],
    },
    {
      name: 'a type change',
      desired: deployment(),
      live: deployment((d) => (container(d).env = 'MODE=prod')),
      expected: [
        {
          path: 'spec.template.spec.containers[name=web].env',
          pointer: '/spec/template/spec/containers/0/env',
          desired: [{ name: 'MODE', value: 'prod' }],
          live: 'MODE=prod',
        },
      ],
    },
    {
      name: 'a port number and its string are different values',
      desired: deployment((d) => (d.spec.template.spec.hostname = '8080')),
      live: deployment((d) => (d.spec.template.spec.hostname = 8080)),
      expected: [
        {
          path: 'spec.template.spec.hostname',
          pointer: '/spec/template/spec/hostname',
          desired: '8080',
          live: 8080,
        },
      ],
    },
    {
      name: 'quantity rules apply only where quantities live',
      desired: configMap((c) => (c.data.size = '1000m')),
      live: configMap((c) => (c.data.size = '1')),
      expected: [{ path: 'data.size', pointer: '/data/size', desired: '1000m', live: '1' }],
    },
    {
      name: 'keys with dots and slashes are bracketed and pointer-escaped',
      desired: configMap((c) => (c.data = { 'a.b/c~d': 'x' })),
      live: configMap((c) => (c.data = { 'a.b/c~d': 'y' })),
      expected: [{ path: 'data[a.b/c~d]', pointer: '/data/a.b~1c~0d', desired: 'x', live: 'y' }],
    },
  ])('drift: $name', ({ desired, live, expected }) => {
    expect(diff(desired, live)).toEqual(expected);
  });
});

describe('diff: list elements paired by merge key', () => {
  // Lists up to 32 elements are paired by a scan, longer ones through a Map: both must agree.
  const envOf = (size: number) => [
    ...Array.from({ length: size }, (_, i) => ({ name: `VAR_${i}`, value: String(i) })),
    { name: 'DUP', value: 'first' },
    { name: 'DUP', value: 'second' },
  ];

  it.each([3, 30, 40])(
    'with %i other variables, the n-th duplicate pairs with the n-th, in any order',
    (size) => {
      const desired = deployment((d) => (container(d).env = envOf(size)));
      const live = deployment((d) => {
        // Reversed, then the two DUPs put back in their order: `first` before `second`.
        const [, , ...others] = envOf(size).reverse();
        container(d).env = [
          { name: 'DUP', value: 'first' },
          { name: 'DUP', value: 'changed' },
          ...others,
        ];
      });
      expect(diff(desired, live)).toEqual([
        {
          path: 'spec.template.spec.containers[name=web].env[name=DUP].value',
          pointer: '/spec/template/spec/containers/0/env/1/value',
          desired: 'second',
          live: 'changed',
        },
      ]);
    },
  );

  it('pairs the last elements of a list of 32, the longest that is scanned', () => {
    const desired = deployment((d) => (container(d).env = envOf(30)));
    const live = deployment((d) => {
      const env = envOf(30);
      env[31] = { name: 'DUP', value: 'changed' };
      container(d).env = env;
    });
    expect(diff(desired, live)).toEqual([
      {
        path: 'spec.template.spec.containers[name=web].env[name=DUP].value',
        pointer: '/spec/template/spec/containers/0/env/31/value',
        desired: 'second',
        live: 'changed',
      },
    ]);
  });

  it.each([3, 30, 40])(
    'with %i other variables, one the object lacks is reported whole',
    (size) => {
      const desired = deployment((d) => (container(d).env = envOf(size)));
      const live = deployment((d) => (container(d).env = envOf(size).slice(1)));
      expect(diff(desired, live)).toEqual([
        {
          path: 'spec.template.spec.containers[name=web].env[name=VAR_0]',
          pointer: '/spec/template/spec/containers/0/env/0',
          desired: { name: 'VAR_0', value: '0' },
        },
      ]);
    },
  );

  it('a key that is a number in Git and a string in the object names another element', () => {
    const desired = deployment((d) => (container(d).env = [{ name: 8080, value: 'x' }]));
    const live = deployment((d) => (container(d).env = [{ name: '8080', value: 'x' }]));
    expect(paths(diff(desired, live))).toEqual([
      'spec.template.spec.containers[name=web].env[name=8080]',
    ]);
  });
});

describe('diff: namespaces', () => {
  const withoutNamespace = configMap((c) => delete c.metadata.namespace);

  it('a namespaced manifest without a namespace takes the source default', () => {
    expect(diff(withoutNamespace, configMap(), { defaultNamespace: 'shop' })).toEqual([]);
    expect(diff(withoutNamespace, configMap(), { defaultNamespace: 'other' })).toEqual([
      {
        path: 'metadata.namespace',
        pointer: '/metadata/namespace',
        desired: 'other',
        live: 'shop',
      },
    ]);
  });

  it('a cluster-scoped object is compared without a namespace, even when Git sets one', () => {
    const desired = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', namespace: 'x' },
    };
    const live = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } };
    expect(diff(desired, live, { defaultNamespace: 'shop' })).toEqual([]);
  });
});

describe('diff: Secrets', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const secret = (body: object): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: 'shop' },
    ...body,
  });

  it('stringData in Git equals base64 data on the server; stringData wins over data', () => {
    const desired = secret({ data: { user: b64('old') }, stringData: { user: 'app', pass: 'pw' } });
    const live = secret({ data: { user: b64('app'), pass: b64('pw') } });
    expect(diff(desired, live)).toEqual([]);
  });

  it('base64 wrapped across lines in Git is the same bytes', () => {
    const long = b64('x'.repeat(120));
    const wrapped = long.replace(/(.{76})/g, '$1\n');
    expect(diff(secret({ data: { k: wrapped } }), secret({ data: { k: long } }))).toEqual([]);
  });

  it('a changed value is redacted in the drift', () => {
    const drift = diff(
      secret({ stringData: { pass: 'from-git' } }),
      secret({ data: { pass: b64('by-hand') } }),
    );
    expect(drift).toEqual([
      { path: 'data.pass', pointer: '/data/pass', desired: '<redacted>', live: '<redacted>' },
    ]);
  });

  it('a missing value is redacted too', () => {
    expect(diff(secret({ stringData: { pass: 'pw' } }), secret({ data: {} }))).toEqual([
      { path: 'data.pass', pointer: '/data/pass', desired: '<redacted>' },
    ]);
  });

  it('a SOPS-encrypted Secret is compared by its keys only', () => {
    const encrypted = secret({
      sops: { version: '3.9.0', mac: 'ENC[AES256_GCM,data:abc,type:str]' },
      stringData: { pass: 'ENC[AES256_GCM,data:Zm9v,iv:aXY=,tag:dGFn,type:str]' },
      data: { user: 'ENC[AES256_GCM,data:YmFy,iv:aXY=,tag:dGFn,type:str]' },
    });
    expect(diff(encrypted, secret({ data: { pass: b64('real'), user: b64('app') } }))).toEqual([]);
    expect(diff(encrypted, secret({ data: { user: b64('app') } }))).toEqual([
      { path: 'data.pass', pointer: '/data/pass', desired: '<redacted>' },
    ]);
  });
});

describe('diff: tracking label', () => {
  it("Argo CD's tracking label is ignored when label tracking is configured, compared otherwise", () => {
    const desired = deployment((d) => (d.metadata.labels['app.kubernetes.io/instance'] = 'shop'));
    const live = deployment((d) => (d.metadata.labels['app.kubernetes.io/instance'] = 'shop-prod'));
    expect(diff(desired, live, { trackingLabel: 'app.kubernetes.io/instance' })).toEqual([]);
    expect(paths(diff(desired, live))).toEqual(['metadata.labels[app.kubernetes.io/instance]']);
  });
});

describe('diffWrite', () => {
  const desired = deployment();

  it('a write that moves a declared field away from Git introduces drift', () => {
    const old = deployment();
    const live = deployment((d) => (container(d).image = 'web:2'));
    expect(diffWrite(desired, old, live)).toEqual({
      introduced: [
        {
          path: 'spec.template.spec.containers[name=web].image',
          pointer: '/spec/template/spec/containers/0/image',
          desired: 'web:1',
          live: 'web:2',
        },
      ],
      preexisting: [],
    });
  });

  it('drift the write leaves alone is pre-existing, not introduced', () => {
    const old = deployment((d) => (d.spec.replicas = 5));
    const live = deployment((d) => {
      d.spec.replicas = 5;
      d.metadata.labels.team = 'a';
    });
    const drift = diffWrite(desired, old, live);
    expect(drift.introduced).toEqual([]);
    expect(paths(drift.preexisting)).toEqual(['spec.replicas']);
  });

  it('a write that moves a drifted field further away introduces drift', () => {
    const old = deployment((d) => (d.spec.replicas = 5));
    const live = deployment((d) => (d.spec.replicas = 6));
    expect(paths(diffWrite(desired, old, live).introduced)).toEqual(['spec.replicas']);
  });

  it('a write that brings a field back to Git introduces nothing', () => {
    const old = deployment((d) => (d.spec.replicas = 5));
    expect(diffWrite(desired, old, deployment())).toEqual({ introduced: [], preexisting: [] });
  });

  it('strict: undeclared fields the write adds, changes or removes', () => {
    const old = deployment((d) => (d.metadata.labels.owner = 'alice'));
    const live = deployment((d) => {
      d.metadata.labels.team = 'a';
      container(d).env.push({ name: 'DEBUG', value: '1' });
      d.spec.template.spec.dnsPolicy = 'Default';
    });
    const drift = diffWrite(desired, old, live, { fieldPolicy: 'strict' });
    expect(drift.introduced).toEqual([
      { path: 'metadata.labels.owner', pointer: '/metadata/labels/owner' },
      { path: 'metadata.labels.team', pointer: '/metadata/labels/team', live: 'a' },
      {
        path: 'spec.template.spec.containers[name=web].env[name=DEBUG]',
        pointer: '/spec/template/spec/containers/0/env/1',
        live: { name: 'DEBUG', value: '1' },
      },
      {
        path: 'spec.template.spec.dnsPolicy',
        pointer: '/spec/template/spec/dnsPolicy',
        live: 'Default',
      },
    ]);
  });

  it('strict ignores what is never compared (status, resourceVersion, managedFields)', () => {
    const old = deployment((d) => (d.metadata.resourceVersion = '1'));
    const live = deployment((d) => {
      d.metadata.resourceVersion = '2';
      d.metadata.managedFields = [{ manager: 'kubectl' }];
      d.status = { replicas: 2 };
    });
    expect(diffWrite(desired, old, live, { fieldPolicy: 'strict' }).introduced).toEqual([]);
  });

  it('ignore rules apply to the old object too', () => {
    const old = deployment((d) => (d.spec.replicas = 5));
    const live = deployment((d) => (d.spec.replicas = 9));
    const ignore = [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }];
    expect(diffWrite(desired, old, live, { ignore })).toEqual({ introduced: [], preexisting: [] });
  });
});

describe('ignore rules: which objects they apply to', () => {
  const scaled = deployment((d) => (d.spec.replicas = 9));
  const replicas = { jsonPointers: ['/spec/replicas'] };

  it.each([
    ['apps', 'Deployment'],
    ['*', '*'],
    ['app*', '*ment'],
    ['*s', 'Deploy*'],
  ])('group %s and kind %s match an apps/Deployment', (group, kind) => {
    // Twice: the second time the patterns are already compiled.
    for (let i = 0; i < 2; i++) {
      expect(diff(deployment(), scaled, { ignore: [{ group, kind, ...replicas }] })).toEqual([]);
    }
  });

  it.each([
    ['', 'Deployment'],
    ['apps', 'StatefulSet'],
    ['*', 'Deploy'],
    ['a*s', '*Set'],
    ['*.k8s.io', '*'],
  ])('group %s and kind %s do not match an apps/Deployment', (group, kind) => {
    for (let i = 0; i < 2; i++) {
      expect(paths(diff(deployment(), scaled, { ignore: [{ group, kind, ...replicas }] }))).toEqual(
        ['spec.replicas'],
      );
    }
  });
});

describe('validateIgnoreRules', () => {
  it('accepts rules written as in an Argo CD Application', () => {
    const rules = [
      { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
      { kind: 'ConfigMap', name: 'x', namespace: 'y', managedFieldsManagers: ['janitor'] },
    ];
    expect(validateIgnoreRules(rules, 'ignoreDifferences')).toEqual({ rules, errors: [] });
  });

  it.each([
    {
      name: 'not a list',
      value: { kind: 'X' },
      errors: [{ path: 'r', message: 'must be a list of rules' }],
    },
    {
      name: 'no kind',
      value: [{ group: 'apps' }],
      errors: [{ path: 'r[0].kind', message: "required (use '*' for every kind)" }],
    },
    {
      name: 'an unknown key',
      value: [{ kind: 'X', pointers: [] }],
      errors: [{ path: 'r[0].pointers', message: 'unknown key' }],
    },
    {
      name: 'a pointer without a leading slash',
      value: [{ kind: 'X', jsonPointers: ['spec/replicas'] }],
      errors: [
        {
          path: 'r[0].jsonPointers[0]',
          message: "'spec/replicas' is not a JSON pointer (it must start with '/')",
        },
      ],
    },
    {
      name: 'jq expressions',
      value: [{ kind: 'X', jqPathExpressions: ['.spec.replicas'] }],
      errors: [
        {
          path: 'r[0].jqPathExpressions',
          message: 'not supported: rewrite the expression as jsonPointers or managedFieldsManagers',
        },
      ],
    },
    {
      name: 'a wrong type',
      value: [{ kind: 'X', managedFieldsManagers: 'janitor' }],
      errors: [{ path: 'r[0].managedFieldsManagers', message: 'must be a list of strings' }],
    },
  ])('rejects $name, naming the key', ({ value, errors }) => {
    const result = validateIgnoreRules(value, 'r');
    expect(result.errors).toEqual(errors);
    expect(result.rules).toEqual([]);
  });
});

describe('ignore rules and scope', () => {
  it("a rule for a namespace never reaches a cluster-scoped object the source's namespace defaults", () => {
    const widget = (size: string): KubeObject => ({
      apiVersion: 'capture.example.com/v1',
      kind: 'ClusterWidget',
      metadata: { name: 'global' },
      spec: { size },
    });
    const drift = diff(widget('large'), widget('small'), {
      defaultNamespace: 'shop',
      ignore: [
        {
          group: 'capture.example.com',
          kind: 'ClusterWidget',
          namespace: 'shop',
          jsonPointers: ['/spec/size'],
        },
      ],
    });
    expect(paths(drift)).toEqual(['spec.size']);
  });
});
