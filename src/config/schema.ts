// The config file's shape, declared once: each key with its type, default, description and
// checks. Validation, the TypeScript types, `driftgate config schema` and docs/config.md come
// from this one declaration, so adding a key here is the whole change.
//
// zod 4: it prints JSON Schema itself (z.toJSONSchema, no second library), reports every issue
// with its exact key path, and infers the TypeScript types from the same declaration.
import { z } from 'zod';
import { checkRepoURL, checkRevision, checkSourcePath } from '../desired/repo-url.js';
import { jqToPointer } from '../discovery/result.js';
import type { FieldPolicy } from '../drift/diff.js';
import { defaults, EXEMPT_PRESETS, type ExemptPreset } from './defaults.js';
import { formatDuration, parseDuration } from './duration.js';

// ---------------------------------------------------------------------------------------------
// Building blocks. Each carries the wording an error gives, so every message says what was
// expected (or `required`); the key path is added where issues are read (config.ts).

type Check = (value: string) => string | undefined;

/** `required` when the key is missing, else `message`. */
const expecting = (message: string) => ({
  error: (issue: { readonly input?: unknown }) =>
    issue.input === undefined ? 'required' : message,
});

/**
 * YAML writes a key with no value (`certFile:`) as null: driftgate reads that as the key left
 * out, so its default applies. In JSON Schema the key keeps its own type.
 */
function orAbsent<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema);
}

function checked<T extends z.ZodType<string>>(schema: T, check?: Check) {
  return check === undefined
    ? schema
    : schema.superRefine((value, ctx) => {
        const problem = check(value);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      });
}

function text(check?: Check) {
  return checked(z.string(expecting('must be a string')), check);
}

/** A key that must be given (null, an empty YAML value, counts as not given). */
function requiredText(check?: Check) {
  return orAbsent(text(check));
}

/** A string whose empty value means "none", as does leaving it out. */
function optionalText(check?: Check) {
  return orAbsent(
    text(check === undefined ? undefined : (value) => (value === '' ? undefined : check(value)))
      .optional()
      .transform((value) => (value === undefined || value === '' ? null : value)),
  );
}

function texts(check?: Check) {
  return z.array(text(check), expecting('must be a list of strings'));
}

function list<T extends z.ZodType>(item: T) {
  return z.array(item, expecting('must be a list'));
}

const flag = () => z.boolean(expecting('must be true or false'));

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, expecting(`must be one of ${values.join(', ')}`));
}

/** `true`, `false` or `auto`: a plain boolean, since YAML 1.1 reads `on` and `off` as booleans. */
function autoBoolean() {
  return z.union([z.literal('auto'), z.boolean()], expecting('must be true, false or auto'));
}

/** A mapping whose unknown keys are errors (each named where issues are read). */
function mapping<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, expecting('must be a mapping'));
}

/** A duration (`30s`, `4h`, `1m30s`) read as milliseconds, at least `minimumMs`. */
function duration(minimumMs: number) {
  return z
    .string(expecting('must be a duration such as 30s, 4h or 1m30s'))
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 4h or 1m30s' });
        return z.NEVER;
      }
      if (ms < minimumMs) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${minimumMs / 1000}s` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ pattern: '^(?=.)([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$' });
}

/**
 * Cross-key rules of a mapping run even when one of its keys has its own error, so every problem
 * is reported at once; not when the value is no mapping at all.
 */
const always = {
  when: (payload: { readonly value: unknown }) =>
    typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
} as const;

/**
 * Whether one of `keys` of the mapping being checked already has an error: a cross-key rule
 * judges only valid keys, so a wrong value gives one error, not two.
 */
const wrong = (
  ctx: { readonly issues: readonly { readonly path?: readonly PropertyKey[] | undefined }[] },
  ...keys: string[]
) => ctx.issues.some((issue) => keys.includes(String(issue.path?.[0])));

const nonEmpty: Check = (value) => (value === '' ? 'must not be empty' : undefined);
const jsonPointer: Check = (value) =>
  value.startsWith('/') ? undefined : 'must be a JSON pointer starting with "/"';
const fromChecked =
  (check: (value: string) => { ok: true } | { ok: false; message: string }): Check =>
  (value) => {
    const result = check(value);
    return result.ok ? undefined : result.message;
  };

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const SOURCE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const namespaceName: Check = (value) =>
  K8S_NAME.test(value) && value.length <= 63 ? undefined : 'must be a valid namespace name';
export const SOURCE_NAME_PROBLEM =
  'must be lowercase letters, digits and "-" (at most 63), like a Kubernetes name';

const strings = (value: unknown): readonly string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

// ---------------------------------------------------------------------------------------------
// Identities, rules and sources.

const identitySet = (users: readonly string[], what: string) =>
  mapping({
    users: orAbsent(texts(nonEmpty).default([...users])).describe(
      `Usernames ${what}, as the API server names them (\`system:serviceaccount:<namespace>:<name>\` for a service account).`,
    ),
    groups: orAbsent(texts(nonEmpty).default([])).describe(`Groups ${what}.`),
  });

const ignoreDifference = mapping({
  group: orAbsent(text().default(''))
    .describe('API group of the objects; empty for the core group.')
    .meta({ examples: ['apps'] }),
  kind: requiredText(nonEmpty)
    .describe('Kind of the objects.')
    .meta({ examples: ['Deployment'] }),
  name: optionalText()
    .describe('Only the object of this name.')
    .meta({ examples: ['ca-bundle'] }),
  namespace: optionalText()
    .describe('Only objects in this namespace.')
    .meta({ examples: ['shop'] }),
  jsonPointers: orAbsent(texts(jsonPointer).default([]))
    .describe('Fields never compared, as JSON pointers.')
    .meta({ examples: [['/spec/replicas']] }),
  jqPathExpressions: orAbsent(
    texts((expression) =>
      jqToPointer(expression)?.exact === true
        ? undefined
        : 'only a plain jq path (.spec.replicas, .data["ca.crt"]) is evaluated: write this one as jsonPointers',
    ).default([]),
  )
    .describe(
      'Fields never compared, as jq paths; driftgate evaluates plain paths only (no filters), as the JSON pointers they name.',
    )
    .meta({ examples: [['.metadata.annotations["example.com/rotated-at"]']] }),
  managedFieldsManagers: orAbsent(texts(nonEmpty).default([]))
    .describe('Fields owned by these field managers (managedFields) are never compared.')
    .meta({ examples: [['kube-controller-manager']] }),
})
  .superRefine((rule, ctx) => {
    if (wrong(ctx, 'jsonPointers', 'jqPathExpressions', 'managedFieldsManagers')) return;
    if (
      strings(rule.jsonPointers).length === 0 &&
      strings(rule.jqPathExpressions).length === 0 &&
      strings(rule.managedFieldsManagers).length === 0
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'needs jsonPointers, jqPathExpressions or managedFieldsManagers',
      });
    }
  }, always)
  // A jq path is honoured as the pointer it names, with the rule's own pointers.
  .transform((rule) => ({
    ...rule,
    jsonPointers: [
      ...rule.jsonPointers,
      ...rule.jqPathExpressions.flatMap((expression) => jqToPointer(expression)?.pointer ?? []),
    ],
  }))
  .describe("One ignore rule in Argo CD's `ignoreDifferences` syntax.");

const ignoreDifferences = (scope: string) =>
  orAbsent(list(ignoreDifference).default([]))
    .describe(
      `Fields never compared ${scope}, in Argo CD's \`ignoreDifferences\` syntax (paste what you have).`,
    )
    .meta({
      examples: [[{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }]],
    });

const auth = mapping({
  usernameFile: optionalText()
    .describe(
      'File holding the username for an https:// repoURL (default: none, for token-only servers).',
    )
    .meta({ examples: ['/etc/driftgate/git/username'] }),
  passwordFile: orAbsent(text(nonEmpty).optional())
    .describe('File holding the password or token for an https:// repoURL.')
    .meta({ examples: ['/etc/driftgate/git/token'] }),
  sshKeyFile: orAbsent(text(nonEmpty).optional())
    .describe('File holding the private key for an ssh:// or user@host:path repoURL.')
    .meta({ examples: ['/etc/driftgate/git/id_ed25519'] }),
  knownHostsFile: orAbsent(text(nonEmpty).optional())
    .describe("File holding the ssh server's host keys (always checked) for sshKeyFile.")
    .meta({ examples: ['/etc/driftgate/git/known_hosts'] }),
})
  .superRefine((fields, ctx) => {
    const required = (key: string) => {
      ctx.addIssue({ code: 'custom', path: [key], message: 'required' });
    };
    if (fields.sshKeyFile !== undefined || fields.knownHostsFile !== undefined) {
      if (fields.sshKeyFile === undefined) required('sshKeyFile');
      // Host keys are always checked: a token or key must never be offered to an impostor.
      if (fields.knownHostsFile === undefined) required('knownHostsFile');
      for (const key of ['usernameFile', 'passwordFile'] as const) {
        if (fields[key] !== undefined && fields[key] !== null) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'not used with sshKeyFile and knownHostsFile (ssh)',
          });
        }
      }
    } else if (fields.usernameFile !== null || fields.passwordFile !== undefined) {
      if (fields.passwordFile === undefined) required('passwordFile');
    } else {
      ctx.addIssue({
        code: 'custom',
        message: 'needs {usernameFile, passwordFile} or {sshKeyFile, knownHostsFile}',
      });
    }
  }, always)
  .transform((fields) =>
    fields.sshKeyFile !== undefined
      ? {
          kind: 'ssh' as const,
          sshKeyFile: fields.sshKeyFile,
          knownHostsFile: fields.knownHostsFile ?? '',
        }
      : {
          kind: 'https' as const,
          usernameFile: fields.usernameFile,
          passwordFile: fields.passwordFile ?? '',
        },
  )
  .describe(
    'Credentials for a private repository, files read again at every fetch: {usernameFile, passwordFile} for https, {sshKeyFile, knownHostsFile} for ssh.',
  );

const source = mapping({
  name: requiredText((value) =>
    SOURCE_NAME.test(value) && value.length <= 63 ? undefined : SOURCE_NAME_PROBLEM,
  )
    .describe('Names the source in decisions, logs and metrics; unique.')
    .meta({ examples: ['shop'] }),
  repoURL: requiredText(fromChecked(checkRepoURL))
    .describe(
      'The Git repository: https://, ssh://, git://, file:// or user@host:path. Never a token in it.',
    )
    .meta({ examples: ['https://git.example.com/ops.git'] }),
  revision: orAbsent(text(fromChecked(checkRevision)).optional())
    .transform((value) => value ?? null)
    .describe("Branch, tag or commit SHA (default: the remote's default branch, its HEAD).")
    .meta({ examples: ['main'] }),
  path: orAbsent(text(fromChecked(checkSourcePath)).default('.'))
    .transform((value) => {
      const normalised = checkSourcePath(value);
      return normalised.ok ? normalised.value : '.';
    })
    .describe('Directory inside the repository; `.` is its root.')
    .meta({ examples: ['apps/shop'] }),
  namespace: orAbsent(
    text((value) => (K8S_NAME.test(value) ? undefined : 'must be a valid namespace name')).default(
      defaults.sourceNamespace,
    ),
  ).describe('Namespace of namespaced objects whose manifest names none (as `kubectl apply -n`).'),
  render: orAbsent(oneOf(['plain', 'kustomize', 'command']).default('plain')).describe(
    'How manifests are made from path: plain YAML files, `kustomize build`, or the command below.',
  ),
  command: orAbsent(texts().optional())
    .describe('The renderer when render is command: an argv list run in path, printing YAML.')
    .meta({ examples: [['helm', 'template', '.']] }),
  pollInterval: orAbsent(
    duration(1_000).prefault(formatDuration(defaults.pollIntervalMs)),
  ).describe(
    'How often the repository is fetched; a push to hooks.git fetches at once. At least 1s.',
  ),
  include: orAbsent(texts(nonEmpty).default([]))
    .describe('Only the files under path matching one of these globs (default: every YAML file).')
    .meta({ examples: [['**/*.yaml']] }),
  exclude: orAbsent(texts(nonEmpty).default([]))
    .describe('Files under path matching one of these globs are left out.')
    .meta({ examples: [['**/test/**']] }),
  auth: orAbsent(auth.optional()).transform((value) => value ?? null),
  syncIdentities: orAbsent(
    identitySet([], 'that sync this source, besides the global ones').prefault({}),
  ).describe(
    "This source's own sync identities (Flux `spec.serviceAccountName`, Argo CD sync impersonation): their writes to its objects are allowed.",
  ),
  ignoreDifferences: ignoreDifferences("for this source's objects, added to the global ones"),
})
  .superRefine((fields, ctx) => {
    const command = strings(fields.command);
    if (wrong(ctx, 'render', 'command')) {
      // Judged once both are valid.
    } else if (fields.render === 'command' && command.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: 'required when render is command (an argv list such as [helm, template, .])',
      });
    }
    if (
      !wrong(ctx, 'render', 'command') &&
      fields.render !== 'command' &&
      fields.command !== undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: 'only used when render is command',
      });
    }
    const protocol = typeof fields.repoURL === 'string' ? checkRepoURL(fields.repoURL) : undefined;
    const credentials = fields.auth as {
      kind?: unknown;
      sshKeyFile?: unknown;
      passwordFile?: unknown;
    } | null;
    if (
      !wrong(ctx, 'repoURL', 'auth') &&
      protocol?.ok === true &&
      credentials !== null &&
      typeof credentials === 'object'
    ) {
      const ssh = credentials.kind === 'ssh' || credentials.sshKeyFile !== undefined;
      if (ssh && protocol.value !== 'ssh') {
        ctx.addIssue({
          code: 'custom',
          path: ['auth'],
          message: 'sshKeyFile needs an ssh:// or user@host:path repoURL',
        });
      } else if (
        !ssh &&
        protocol.value !== 'https' &&
        (credentials.kind === 'https' || credentials.passwordFile !== undefined)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['auth'],
          message: 'usernameFile/passwordFile need an https:// repoURL',
        });
      }
    }
  }, always)
  .transform(({ pollInterval, command, ignoreDifferences: rules, ...fields }) => ({
    ...(rules.length === 0 ? {} : { ignoreDifferences: rules }),
    ...fields,
    command: command ?? [],
    pollIntervalMs: pollInterval,
  }))
  .describe(
    'A Git source: a repository, a revision and a directory whose manifests are desired state.',
  );

const allowance = mapping({
  users: orAbsent(texts(nonEmpty).default([])).describe('Usernames whose writes it allows.'),
  groups: orAbsent(texts(nonEmpty).default([])).describe('Groups whose writes it allows.'),
  group: orAbsent(text().default('')).describe(
    'API group of the objects; empty for the core group.',
  ),
  kind: requiredText(nonEmpty)
    .describe('Kind of the objects.')
    .meta({ examples: ['Deployment'] }),
  jsonPointers: orAbsent(texts(jsonPointer).default([]))
    .describe('The fields these writers may change, as JSON pointers (required).')
    .meta({ examples: [['/spec/template/metadata/annotations']] }),
})
  .superRefine((fields, ctx) => {
    if (
      !wrong(ctx, 'users', 'groups') &&
      strings(fields.users).length === 0 &&
      strings(fields.groups).length === 0
    ) {
      ctx.addIssue({ code: 'custom', message: 'needs users or groups (whose writes it allows)' });
    }
    if (!wrong(ctx, 'jsonPointers') && strings(fields.jsonPointers).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['jsonPointers'], message: 'required' });
    }
  }, always)
  .describe('Named writers (Reloader, Argo Rollouts, ...) that may change named fields.');

const modes = ['enforce', 'warn', 'audit'] as const;
const fieldPolicies = ['declared', 'strict'] as const satisfies readonly FieldPolicy[];
const unmanagedPolicies = ['allow', 'warn', 'deny'] as const;

const namespaceOverride = z
  .preprocess(
    (value) => (value === null ? {} : value),
    mapping({
      mode: orAbsent(oneOf(modes).optional()).describe('Mode in this namespace.'),
      fieldPolicy: orAbsent(oneOf(fieldPolicies).optional()).describe(
        'Field policy in this namespace.',
      ),
      unmanaged: orAbsent(oneOf(unmanagedPolicies).optional()).describe(
        'What a CREATE of an object Git does not declare gets in this namespace.',
      ),
    }),
  )
  .describe(
    'Settings of one namespace that replace the global ones (the namespace label `driftgate.io/mode` wins over them).',
  );

// ---------------------------------------------------------------------------------------------
// Discovery.

const argocdHub = mapping({
  kubeconfigFile: requiredText(nonEmpty)
    .describe("Kubeconfig of Argo CD's cluster, read to list its Applications.")
    .meta({ examples: ['/etc/driftgate/hub/kubeconfig'] }),
  server: optionalText()
    .describe("This cluster's API server URL as the hub names it (`spec.destination.server`).")
    .meta({ examples: ['https://spoke-1.example.com:6443'] }),
  name: optionalText()
    .describe("This cluster's name in Argo CD (`spec.destination.name`).")
    .meta({ examples: ['spoke-1'] }),
})
  .superRefine((fields, ctx) => {
    if (wrong(ctx, 'server', 'name')) return;
    if (fields.server === null && fields.name === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['server'],
        message: 'name this cluster as Argo CD knows it: server, name or both',
      });
    }
  }, always)
  .describe(
    'Argo CD runs on another cluster (hub and spoke): its Applications whose destination is this cluster are the sources.',
  );

const argocdDiscovery = mapping({
  namespace: orAbsent(text(namespaceName).default('argocd')).describe(
    'Where Applications (and AppProjects) live.',
  ),
  hub: orAbsent(argocdHub.optional()).transform((value) => value ?? null),
  controller: orAbsent(text(nonEmpty).optional())
    .describe(
      "The application controller's username, a sync identity for the objects of discovered Applications (default: `system:serviceaccount:<namespace>:argocd-application-controller`; with a hub, `system:serviceaccount:kube-system:argocd-manager`).",
    )
    .meta({ examples: ['system:serviceaccount:gitops:argocd-application-controller'] }),
  repoCredentials: orAbsent(flag().default(false)).describe(
    "Clone with Argo CD's repository credentials (needs deploy/components/argocd-repo-credentials); off: public or config-auth URLs only.",
  ),
  trackingMethod: orAbsent(
    oneOf(['annotation', 'label', 'annotation+label']).default('annotation'),
  ).describe("Argo CD's `resourceTrackingMethod` (argocd-cm)."),
  instanceLabelKey: orAbsent(text(nonEmpty).default('app.kubernetes.io/instance')).describe(
    'argocd-cm `application.instanceLabelKey`.',
  ),
})
  // From a hub, Argo CD writes with the credentials it was given for this cluster: those of the
  // service account `argocd cluster add` makes here.
  .transform(({ controller, ...fields }) => ({
    ...fields,
    controller:
      controller ??
      (fields.hub === null
        ? `system:serviceaccount:${fields.namespace}:argocd-application-controller`
        : 'system:serviceaccount:kube-system:argocd-manager'),
  }))
  .describe('Read Argo CD Applications as sources (`{}` turns it on with every default).');

const fluxDiscovery = mapping({
  namespace: orAbsent(
    text((value) => (value === '*' ? undefined : namespaceName(value))).default('flux-system'),
  )
    .transform((value) => (value === '*' ? null : value))
    .describe('Only GitRepositories and Kustomizations in this namespace; `*`: every namespace.'),
}).describe(
  'Read Flux Kustomizations and GitRepositories as sources (`{}` turns it on with every default).',
);

/** Present, even empty (`flux:`), turns discovery on; left out, off. */
const turnedOn = <T extends z.ZodType>(schema: T) =>
  z
    .preprocess((value) => (value === null ? {} : value), schema.optional())
    .transform((value) => value ?? null);

// ---------------------------------------------------------------------------------------------
// The file.

const exemptIdentities = mapping({
  users: orAbsent(texts(nonEmpty).default([...defaults.exemptUsers])).describe(
    "Usernames whose writes are never judged (default: kube-controller-manager, the scheduler, kubelets and kube-controller-manager's controllers' service accounts).",
  ),
  groups: orAbsent(texts(nonEmpty).default([])).describe('Groups whose writes are never judged.'),
  presets: orAbsent(
    texts((name) =>
      Object.hasOwn(EXEMPT_PRESETS, name)
        ? undefined
        : `unknown preset "${name}"; known presets: ${Object.keys(EXEMPT_PRESETS).join(', ')}`,
    )
      .default([])
      .meta({ items: { enum: Object.keys(EXEMPT_PRESETS) } }),
  ).describe(
    `Platform controllers exempt as well, by preset (${Object.keys(EXEMPT_PRESETS).join(', ')}); added to users.`,
  ),
}).transform(({ presets, ...named }) => {
  const presetUsers = presets.flatMap((name) => EXEMPT_PRESETS[name as ExemptPreset]);
  if (presetUsers.length === 0) return named;
  return { users: [...new Set([...named.users, ...presetUsers])], groups: named.groups };
});

export const configFileSchema = mapping({
  listen: orAbsent(
    mapping({
      port: orAbsent(
        z
          .number(expecting('must be a port number between 1 and 65535'))
          .int('must be a port number between 1 and 65535')
          .min(1, 'must be a port number between 1 and 65535')
          .max(65_535, 'must be a port number between 1 and 65535')
          .default(defaults.listenPort),
      ).describe('HTTPS port of the webhooks, probes and metrics.'),
      certFile: optionalText()
        .describe(
          'Serving certificate (PEM), reloaded when it changes; without it and keyFile, a development certificate.',
        )
        .meta({ examples: ['/etc/driftgate/tls/tls.crt'] }),
      keyFile: optionalText()
        .describe('Private key of certFile (PEM).')
        .meta({ examples: ['/etc/driftgate/tls/tls.key'] }),
      clientCAFile: optionalText()
        .describe(
          "CA of the API server's client certificate: when set, /validate and /mutate answer only clients whose certificate it signed (probes and metrics need none).",
        )
        .meta({ examples: ['/etc/driftgate/client-ca/ca.crt'] }),
    })
      .superRefine((fields, ctx) => {
        if (wrong(ctx, 'certFile', 'keyFile')) return;
        if ((fields.certFile === null) !== (fields.keyFile === null)) {
          ctx.addIssue({ code: 'custom', message: 'certFile and keyFile go together' });
        }
      }, always)
      .prefault({}),
  ).describe('Where and how driftgate serves.'),
  safety: orAbsent(
    mapping({
      maxDeletionShare: orAbsent(
        z
          .number(expecting('must be a number above 0 and at most 1 (1 turns the guard off)'))
          .gt(0, 'must be a number above 0 and at most 1 (1 turns the guard off)')
          .lte(1, 'must be a number above 0 and at most 1 (1 turns the guard off)')
          .default(defaults.maxDeletionShare),
      ).describe(
        "A new render of a source that drops more than this share of the source's objects is held, not served, until a later commit comes back under it or it is accepted. 1 turns this off.",
      ),
      acceptDeletionsAt: optionalText((value) =>
        /^[0-9a-f]{7,64}$/.test(value)
          ? undefined
          : 'must be a commit SHA (hexadecimal, at least 7 digits)',
      )
        .describe(
          'A commit whose render is served even though it drops more than maxDeletionShare.',
        )
        .meta({ examples: ['4f2a9c1'] }),
    }).prefault({}),
  ).describe('Guards against a render that would silently stop protecting most objects.'),
  cacheDir: orAbsent(text(nonEmpty).default(defaults.cacheDir)).describe(
    'Where Git clones and the last good snapshot live.',
  ),
  sources: orAbsent(list(source).default([]))
    .superRefine(
      (sources, ctx) => {
        const firstByName = new Map<string, number>();
        sources.forEach((item, index) => {
          const name = (item as { name?: unknown }).name;
          if (typeof name !== 'string' || name === '') return;
          const first = firstByName.get(name);
          if (first === undefined) firstByName.set(name, index);
          else {
            ctx.addIssue({
              code: 'custom',
              path: [index, 'name'],
              message: `"${name}" is already used by sources[${first}]`,
            });
          }
        });
      },
      { when: (payload) => Array.isArray(payload.value) },
    )
    .describe('The Git sources of desired state (required unless discovery is on).')
    .meta({
      examples: [
        [
          {
            name: 'shop',
            repoURL: 'https://git.example.com/ops.git',
            revision: 'main',
            path: 'apps/shop',
            namespace: 'shop',
          },
        ],
      ],
    }),
  discovery: orAbsent(
    mapping({
      argocd: turnedOn(argocdDiscovery).meta({ examples: [{ namespace: 'argocd' }] }),
      flux: turnedOn(fluxDiscovery).meta({ examples: [{}] }),
    }).prefault({}),
  ).describe(
    "Take the sources from the sync tool's own objects (Argo CD Applications, Flux Kustomizations).",
  ),
  mode: orAbsent(oneOf(modes).default('enforce')).describe(
    'What drift gets: `enforce` denies the write, `warn` allows it with a warning per field, `audit` allows it and records it.',
  ),
  fieldPolicy: orAbsent(oneOf(fieldPolicies).default('declared')).describe(
    'Which changes of an UPDATE are judged: `declared` the fields Git declares, `strict` also fields Git does not declare.',
  ),
  unmanaged: orAbsent(oneOf(unmanagedPolicies).default('allow')).describe(
    'What a CREATE of an object Git does not declare gets (objects with a controller ownerReference are always allowed).',
  ),
  syncRecords: orAbsent(oneOf(['fallback', 'always', 'off']).default('fallback')).describe(
    "Objects a sync tool deployed but Git cannot render again are protected by the sync tool's record on them: `fallback` where no source declares the object, `always` also beside rendered Git, `off` never.",
  ),
  failureMode: orAbsent(oneOf(['open', 'closed']).default('open')).describe(
    'What an internal error or a missing snapshot means: `open` allows the write, `closed` refuses it.',
  ),
  kinds: orAbsent(
    mapping({
      include: orAbsent(texts(nonEmpty).default([]))
        .describe(
          'Only these kinds (`Deployment` or `apps/Deployment`); empty: every kind the snapshot holds.',
        )
        .meta({ examples: [['apps/Deployment', 'ConfigMap']] }),
      exclude: orAbsent(texts(nonEmpty).default([])).describe('Kinds never judged.'),
    })
      .superRefine((fields, ctx) => {
        if (wrong(ctx, 'include', 'exclude')) return;
        const include = strings(fields.include);
        const exclude = strings(fields.exclude);
        if (include.length > 0 && include.every((kind) => exclude.includes(kind))) {
          ctx.addIssue({
            code: 'custom',
            path: ['exclude'],
            message: 'excludes every kind of kinds.include: no write would be reviewed',
          });
        }
      }, always)
      .prefault({}),
  ).describe('Which kinds are judged.'),
  namespaces: orAbsent(
    mapping({
      exclude: orAbsent(texts(nonEmpty).default([...defaults.excludedNamespaces])).describe(
        "Namespaces never judged; driftgate's own namespace is always added.",
      ),
      overrides: orAbsent(
        z
          .record(z.string(), namespaceOverride, expecting('must be a mapping'))
          .superRefine((overrides, ctx) => {
            for (const namespace of Object.keys(overrides)) {
              if (!K8S_NAME.test(namespace)) {
                ctx.addIssue({
                  code: 'custom',
                  path: [namespace],
                  message: 'is not a valid namespace name',
                });
              }
            }
          }, always)
          .default({}),
      )
        .describe('Per-namespace settings, keyed by namespace name.')
        .meta({ examples: [{ shop: { mode: 'warn', fieldPolicy: 'strict' } }] }),
    }).prefault({}),
  ).describe('Which namespaces are judged, and how.'),
  syncIdentities: orAbsent(
    identitySet(
      defaults.syncUsers,
      "of the GitOps sync tools, whose writes are allowed (never argocd-server: it carries out UI users' edits)",
    ).prefault({}),
  ).describe("The GitOps sync tools' identities: their writes are allowed (`decision: sync`)."),
  exemptIdentities: orAbsent(exemptIdentities.prefault({})).describe(
    'System identities whose writes are never judged (`decision: exempt`).',
  ),
  adminGroups: orAbsent(texts(nonEmpty).default([...defaults.adminGroups])).describe(
    'Groups that may change `driftgate.io/*` labels on Namespaces, besides the sync identities.',
  ),
  allowances: orAbsent(list(allowance).default([]))
    .describe(
      'Named writers that may change named fields (e.g. Reloader the pod template annotations).',
    )
    .meta({
      examples: [
        [
          {
            users: ['system:serviceaccount:reloader:reloader'],
            group: 'apps',
            kind: 'Deployment',
            jsonPointers: ['/spec/template/metadata/annotations'],
          },
        ],
      ],
    }),
  ignoreDifferences: ignoreDifferences('for every source'),
  builtins: orAbsent(
    mapping({
      caBundles: orAbsent(flag().default(true)).describe(
        "APIService `spec.caBundle` and CRD conversion webhook `caBundle` may be changed by anyone (cert-manager's cainjector).",
      ),
      rolloutRestart: orAbsent(flag().default(true)).describe(
        "The pod template's `kubectl.kubernetes.io/restartedAt` annotation may be changed (`kubectl rollout restart`).",
      ),
      aggregatedClusterRoles: orAbsent(flag().default(true)).describe(
        'The `rules` of a ClusterRole that Git declares with an `aggregationRule` are left to the aggregation controller.',
      ),
    }).prefault({}),
  ).describe('Built-in allowances, each on by default.'),
  breakGlass: orAbsent(
    mapping({
      groups: orAbsent(texts(nonEmpty).default([]))
        .describe('Groups that may set `driftgate.io/break-glass` and write under it.')
        .meta({ examples: [['oncall']] }),
      users: orAbsent(texts(nonEmpty).default([])).describe(
        'Usernames that may set `driftgate.io/break-glass` and write under it.',
      ),
      ttl: orAbsent(duration(60_000).prefault(formatDuration(defaults.breakGlassTtlMs))).describe(
        'How long a break-glass lasts once set. At least 60s.',
      ),
      ticketPattern: optionalText((value) => {
        try {
          new RegExp(value, 'u');
          return undefined;
        } catch {
          return 'is not a valid regular expression';
        }
      })
        .describe('A regular expression the break-glass reason must match (default: any reason).')
        .meta({ examples: ['^INC-[0-9]+'] }),
    })
      .transform(({ ttl, ...fields }) => ({ ...fields, ttlMs: ttl }))
      .prefault({}),
  ).describe('Who may bypass driftgate during an incident, and for how long.'),
  hooks: orAbsent(
    mapping({
      git: orAbsent(
        mapping({
          secretFile: optionalText()
            .describe(
              'File holding the shared secret that signs push notifications (HMAC); without it they are not verified.',
            )
            .meta({ examples: ['/etc/driftgate/hook/secret'] }),
        }).prefault({}),
      ).describe('POST /hooks/git: a push notification fetches at once.'),
    }).prefault({}),
  ).describe('Notifications driftgate receives.'),
  override: orAbsent(
    mapping({
      configMap: orAbsent(
        text((value) =>
          K8S_NAME.test(value) ? undefined : 'must be a valid ConfigMap name',
        ).default(defaults.overrideConfigMap),
      ).describe(
        "The kill switch: a ConfigMap in driftgate's own namespace, not managed by GitOps, whose `data.mode` (off, audit, warn) overrides every mode.",
      ),
    }).prefault({}),
  ).describe('The kill switch.'),
  cluster: orAbsent(
    mapping({
      watch: orAbsent(autoBoolean().default('auto')).describe(
        'Watch the cluster (HPAs, Namespaces, scale parents, the kill switch): `auto` when in-cluster credentials or a kubeconfig are found, `true` fails without them.',
      ),
      events: orAbsent(flag().default(true)).describe(
        'Post Events for denials and break-glass uses.',
      ),
    }).prefault({}),
  ).describe('What driftgate reads from and writes to the cluster it guards.'),
  scan: orAbsent(
    mapping({
      enabled: orAbsent(autoBoolean().default('auto')).describe(
        "serve's background scan of every object Git declares: `auto` whenever the cluster is watched.",
      ),
      interval: orAbsent(
        duration(60_000).prefault(formatDuration(defaults.scanIntervalMs)),
      ).describe(
        'Between the end of one scan and the start of the next, before jitter. At least 60s.',
      ),
      qps: orAbsent(
        z
          .number(expecting('must be a number of requests a second, above 0 and at most 1000'))
          .gt(0, 'must be a number of requests a second, above 0 and at most 1000')
          .lte(1000, 'must be a number of requests a second, above 0 and at most 1000')
          .default(defaults.scanQps),
      ).describe('At most this many requests a second to the API server.'),
      policyReports: orAbsent(autoBoolean().default('auto')).describe(
        'Write `wgpolicyk8s.io/v1alpha2` PolicyReports of each scan: `auto` when the API server serves them, `true` expects them (their absence is an error), `false` never.',
      ),
    })
      .transform(({ interval, ...fields }) => ({ ...fields, intervalMs: interval }))
      .prefault({}),
  ).describe("serve's background scan (`driftgate scan` in the cluster)."),
})
  .superRefine((config, ctx) => {
    const sources = Array.isArray(config.sources) ? config.sources : [];
    // Any of these may be the file's own wrong value here: the rule runs despite other errors.
    const discovery = config.discovery as { argocd?: unknown; flux?: unknown } | undefined;
    const discovered =
      (discovery?.argocd !== undefined && discovery.argocd !== null) ||
      (discovery?.flux !== undefined && discovery.flux !== null);
    const sourceProblems = wrong(ctx, 'sources');
    if (sources.length === 0 && !discovered && !sourceProblems) {
      ctx.addIssue({
        code: 'custom',
        path: ['sources'],
        message: 'required (or discovery): nothing to compare with',
      });
    }
  }, always)
  .describe('driftgate config file (`driftgate serve --config FILE`).');

export type ConfigFileOutput = z.output<typeof configFileSchema>;

/** JSON Schema of the config file, for editors (`# yaml-language-server: $schema=...`). */
export type JsonSchema = { [key: string]: unknown };

/**
 * The config file's JSON Schema, draft-07: the newest draft yaml-language-server (and so the
 * YAML extensions of VS Code, JetBrains and Neovim) validates fully. It describes the file as
 * written (`ttl: 4h`), not as resolved.
 */
export function configJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(configFileSchema, {
    io: 'input',
    target: 'draft-07',
    unrepresentable: 'throw',
    // zod leaves `examples` out of keys that are transformed on input (each key here is, to
    // read null as absent): the declared examples are still the input's.
    override: (ctx) => {
      const examples = z.globalRegistry.get(ctx.zodSchema)?.examples;
      if (examples !== undefined) ctx.jsonSchema.examples = examples as unknown[];
      // Likewise defaults of keys whose value is transformed (a source, a list of them): every
      // `.default()` here is a value the file could hold as it is.
      const def = ctx.zodSchema._zod.def;
      if (def.type === 'default' && ctx.jsonSchema.default === undefined) {
        ctx.jsonSchema.default = structuredClone((def as { defaultValue: unknown }).defaultValue);
      }
    },
  }) as JsonSchema;
  const { $schema, ...rest } = acceptNullWhereOptional(schema);
  return { $schema, title: 'driftgate config', ...rest };
}

/** An optional key may be written with no value (null), which driftgate reads as left out. */
function acceptNullWhereOptional(schema: JsonSchema): JsonSchema {
  const walked: JsonSchema = { ...schema };
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (properties !== undefined) {
    const required = new Set((schema.required as string[] | undefined) ?? []);
    walked.properties = Object.fromEntries(
      Object.entries(properties).map(([key, value]) => {
        const inner = acceptNullWhereOptional(value);
        return [key, required.has(key) ? inner : orNull(inner)];
      }),
    );
  }
  if (typeof schema.items === 'object' && schema.items !== null) {
    walked.items = acceptNullWhereOptional(schema.items as JsonSchema);
  }
  // A named entry with no value (`shop:` under namespaces.overrides) takes every default.
  if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) {
    walked.additionalProperties = orNull(
      acceptNullWhereOptional(schema.additionalProperties as JsonSchema),
    );
  }
  if (Array.isArray(schema.anyOf)) {
    walked.anyOf = (schema.anyOf as JsonSchema[]).map(acceptNullWhereOptional);
  }
  return walked;
}

function orNull(schema: JsonSchema): JsonSchema {
  if (Array.isArray(schema.anyOf)) {
    return { ...schema, anyOf: [...(schema.anyOf as unknown[]), { type: 'null' }] };
  }
  if (typeof schema.type !== 'string') return schema;
  const nullable: JsonSchema = { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum)) nullable.enum = [...(schema.enum as unknown[]), null];
  return nullable;
}
