// driftgate's configuration: the typed struct every module reads (DESIGN.md §3, §6), resolved
// from the one declared schema in schema.ts, whose errors name each bad key path, all at once,
// so a typo fails at start, not at 3 a.m.
import type { z } from 'zod';
import type { FieldPolicy } from '../drift/diff.js';
import {
  configFileSchema,
  SOURCE_NAME,
  SOURCE_NAME_PROBLEM,
  type ConfigFileOutput,
} from './schema.js';

export { defaults, EXEMPT_PRESETS, type ExemptPreset } from './defaults.js';
export { configFileSchema } from './schema.js';
export type { FieldPolicy };

type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The config file as the schema resolves it, before driftgate's own context is added. */
type FileConfig = DeepReadonly<ConfigFileOutput>;
type FileSource = FileConfig['sources'][number];

export type Mode = FileConfig['mode'];
export type UnmanagedPolicy = FileConfig['unmanaged'];
export type FailureMode = FileConfig['failureMode'];
/**
 * Objects a sync tool deployed but Git cannot render again are protected by the sync tool's
 * record on them: `fallback` where no source declares the object, `always` also beside rendered
 * Git, `off` never.
 */
export type SyncRecordsPolicy = FileConfig['syncRecords'];
/**
 * `helm` and `auto` (decide by the files at the path, as Argo CD does: Chart.yaml → helm,
 * kustomization.yaml → kustomize, else plain) are made by discovery only.
 */
export type RenderKind = FileSource['render'] | 'helm' | 'auto';
export type IdentitySet = FileConfig['syncIdentities'];
export type SourceAuth = NonNullable<FileSource['auth']>;
/** One entry of Argo CD's `ignoreDifferences`, as users paste it. */
export type IgnoreDifference = FileConfig['ignoreDifferences'][number];
export type Allowance = FileConfig['allowances'][number];
export type NamespaceOverride = FileConfig['namespaces']['overrides'][string];
export type ArgoCDDiscovery = NonNullable<FileConfig['discovery']['argocd']>;
/** Argo CD `resourceTrackingMethod` (argocd-cm); `annotation` is the default since Argo CD 3.0. */
export type ArgoCDTrackingMethod = ArgoCDDiscovery['trackingMethod'];
/**
 * Hub and spoke: Applications live on Argo CD's cluster (the hub), read with its own kubeconfig,
 * and those whose destination is this cluster, as it is registered in Argo CD, are this
 * cluster's sources.
 */
export type ArgoCDHub = NonNullable<ArgoCDDiscovery['hub']>;
export type FluxDiscovery = NonNullable<FileConfig['discovery']['flux']>;

export interface FieldError {
  /** Key path as a user would write it: `sources[1].revision`. */
  readonly path: string;
  readonly message: string;
}

/**
 * A source: from the config file, or made by discovery from a sync tool's object, which may set
 * the options below that no config file can.
 */
export interface SourceConfig extends Omit<FileSource, 'render' | 'ignoreDifferences'> {
  readonly render: RenderKind;
  /** Ignore rules for this source's objects only, added to the global ones. */
  readonly ignoreDifferences?: readonly IgnoreDifference[];
  /** A label the sync tool overwrites on every object (Argo CD label tracking): not compared. */
  readonly trackingLabel?: string | null;
  /** Options of `render: helm`. */
  readonly helm?: HelmOptions;
  /** Changes the sync tool makes to the kustomization before `kustomize build`. */
  readonly kustomize?: KustomizeOptions;
  /** `${name}` variables replaced in the rendered manifests (Flux `postBuild.substitute`). */
  readonly substitute?: Readonly<Record<string, string>>;
  /**
   * Honour Flux's per-object annotations in Git: `kustomize.toolkit.fluxcd.io/ssa: Ignore` or
   * `IfNotPresent` and `kustomize.toolkit.fluxcd.io/reconcile: disabled` leave the object unmanaged.
   */
  readonly fluxAnnotations?: boolean;
  /**
   * Read the source as Argo CD's repo server and controller do (discovered Applications): its
   * directory walk and globs, files that are not objects skipped, resource hooks left out.
   */
  readonly argocd?: ArgoCDRendering;
  /** Where the source came from: the config file or a sync tool's object. */
  readonly origin?: SourceOrigin;
}

/** An Application source's `directory` settings, as Argo CD applies them to plain manifests. */
export interface ArgoCDRendering {
  /** `directory.recurse`: subdirectories are read too. */
  readonly recurse: boolean;
  /** `directory.include` / `exclude`: one gobwas glob each, against the path under `path`. */
  readonly include: string | null;
  readonly exclude: string | null;
}

export type SourceOrigin =
  | { readonly kind: 'config' }
  | {
      readonly kind: 'argocd' | 'flux';
      /** The Application or Kustomization: `namespace/name`. */
      readonly object: string;
    };

export interface HelmParameter {
  readonly name: string;
  readonly value: string;
  /** `--set-string` instead of `--set`. */
  readonly forceString: boolean;
}

/** `helm template` as Argo CD runs it for a Git-hosted chart. */
export interface HelmOptions {
  readonly releaseName: string;
  /** `--namespace`: the release namespace templates see. */
  readonly namespace: string;
  /** Relative to the chart directory (`path`); a value file of another repository is refused. */
  readonly valueFiles: readonly string[];
  readonly ignoreMissingValueFiles: boolean;
  /** Inline values (YAML), passed after the value files. */
  readonly values: string | null;
  readonly parameters: readonly HelmParameter[];
  readonly skipCrds: boolean;
  readonly skipSchemaValidation: boolean;
  readonly kubeVersion: string | null;
  readonly apiVersions: readonly string[];
}

/** Argo CD's `kustomize edit` changes, run in a scratch copy of the checkout. */
export interface KustomizeOptions {
  /** `kustomize edit set image` arguments: `nginx=nginx:1.25`, `nginx:1.25`, `nginx@sha256:...`. */
  readonly images: readonly string[];
  readonly namePrefix: string | null;
  readonly nameSuffix: string | null;
  readonly namespace: string | null;
  /** `name=count` for `kustomize edit set replicas`. */
  readonly replicas: readonly string[];
}

export interface Config extends Omit<FileConfig, 'sources' | 'cluster'> {
  readonly sources: readonly SourceConfig[];
  readonly cluster: FileConfig['cluster'] & {
    /** driftgate's own namespace, where the override ConfigMap lives. */
    readonly namespace: string;
  };
}

/** What validation needs to know about where driftgate runs. */
export interface ConfigContext {
  /** driftgate's own namespace: always excluded, so the webhook can never lock itself out. */
  readonly ownNamespace: string;
}

export const DEFAULT_CONTEXT: ConfigContext = { ownNamespace: 'driftgate' };

export type ValidationResult =
  { readonly config: Config } | { readonly errors: readonly FieldError[] };

// Discovered sources are named after their object, with a `:` no configured name can hold, so
// the two never collide: `argocd:argocd/shop`, `argocd:argocd/shop#1`, `flux:flux-system/apps`.
const DISCOVERED_SOURCE_NAME =
  /^(argocd|flux):[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?(#[0-9]+)?$/;

/** Why `name` cannot name a source, or undefined; discovered names have their own shape. */
export function sourceNameProblem(name: string): string | undefined {
  if (name.includes(':')) {
    return DISCOVERED_SOURCE_NAME.test(name) && name.length <= 330
      ? undefined
      : 'a discovered source is named <argocd|flux>:<namespace>/<name>[#index]';
  }
  return SOURCE_NAME.test(name) && name.length <= 63 ? undefined : SOURCE_NAME_PROBLEM;
}

/** `sources[2].repoURL`, `namespaces.overrides.shop.mode`; the whole file is `(root)`. */
function formatPath(path: readonly PropertyKey[]): string {
  const text = path
    .map((key, index) =>
      typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`,
    )
    .join('');
  return text === '' ? '(root)' : text;
}

/** One error per issue, one per unknown key; unknown keys come last, after what was wrong. */
function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const errors: FieldError[] = [];
  const unknown: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        unknown.push({ path: formatPath([...issue.path, key]), message: 'unknown key' });
      }
    } else {
      errors.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return [...errors, ...unknown];
}

/**
 * Checks a parsed config file and fills in defaults. Every problem is reported, not only the
 * first, each naming its key path.
 */
export function validateConfig(
  value: unknown,
  context: ConfigContext = DEFAULT_CONTEXT,
): ValidationResult {
  const result = configFileSchema.safeParse(value ?? {});
  if (!result.success) return { errors: fieldErrors(result.error.issues) };
  const file = result.data;
  const excluded = file.namespaces.exclude;
  return {
    config: {
      ...file,
      namespaces: {
        ...file.namespaces,
        exclude: excluded.includes(context.ownNamespace)
          ? excluded
          : [...excluded, context.ownNamespace],
      },
      cluster: { ...file.cluster, namespace: context.ownNamespace },
    },
  };
}

/** `sources[1].revision: required`, one per line. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => `${error.path}: ${error.message}`).join('\n');
}
