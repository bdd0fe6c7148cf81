// What a sync tool does around the renderer, reproduced: the `helm template` and `kustomize edit`
// command lines Argo CD and Flux run, Flux's postBuild substitution and its per-object opt-outs.
// Pure: the caller runs the commands.
import type { HelmOptions, KustomizeOptions } from '../config/config.js';
import type { RenderedDocument } from './manifest-parser.js';

/**
 * `helm template` as Argo CD's repo server runs it for a chart in Git: the value files in order,
 * then the inline values file, then parameters (which win), CRDs unless skipped.
 */
export function helmTemplateArgv(
  helm: HelmOptions,
  valueFiles: readonly string[],
  inlineValuesFile: string | null,
): string[] {
  const argv = ['helm', 'template', '.', '--name-template', helm.releaseName];
  argv.push('--namespace', helm.namespace);
  if (helm.kubeVersion !== null) argv.push('--kube-version', helm.kubeVersion);
  for (const parameter of helm.parameters) {
    argv.push(
      parameter.forceString ? '--set-string' : '--set',
      `${parameter.name}=${escapeHelmValue(parameter.value)}`,
    );
  }
  for (const file of valueFiles) argv.push('--values', file);
  if (inlineValuesFile !== null) argv.push('--values', inlineValuesFile);
  for (const apiVersion of helm.apiVersions) argv.push('--api-versions', apiVersion);
  if (!helm.skipCrds) argv.push('--include-crds');
  if (helm.skipSchemaValidation) argv.push('--skip-schema-validation');
  return argv;
}

/** Argo CD escapes commas (helm's list separator) unless the value is a `{a,b}` list. */
export function escapeHelmValue(value: string): string {
  if (value.startsWith('{') && value.endsWith('}')) return value;
  let result = '';
  let previous = '';
  for (const character of value) {
    result += character === ',' && previous !== '\\' ? '\\,' : character;
    previous = character;
  }
  return result;
}

/** True when the options change anything: without them, plain `kustomize build` is enough. */
export function hasKustomizeEdits(options: KustomizeOptions | undefined): boolean {
  return (
    options !== undefined &&
    (options.images.length > 0 ||
      options.replicas.length > 0 ||
      options.namePrefix !== null ||
      options.nameSuffix !== null ||
      options.namespace !== null)
  );
}

/** The `kustomize edit` commands, in Argo CD's order, run in the kustomization's directory. */
export function kustomizeEditArgvs(options: KustomizeOptions): string[][] {
  const argvs: string[][] = [];
  if (options.namePrefix !== null) {
    argvs.push(['kustomize', 'edit', 'set', 'nameprefix', '--', options.namePrefix]);
  }
  if (options.nameSuffix !== null) {
    argvs.push(['kustomize', 'edit', 'set', 'namesuffix', '--', options.nameSuffix]);
  }
  if (options.images.length > 0) {
    argvs.push(['kustomize', 'edit', 'set', 'image', ...options.images]);
  }
  if (options.replicas.length > 0) {
    argvs.push(['kustomize', 'edit', 'set', 'replicas', ...options.replicas]);
  }
  if (options.namespace !== null) {
    argvs.push(['kustomize', 'edit', 'set', 'namespace', '--', options.namespace]);
  }
  return argvs;
}

const SUBSTITUTE_DISABLED = /kustomize\.toolkit\.fluxcd\.io\/substitute:\s*["']?disabled["']?\s*$/m;
// `$${var}` is an escape for a literal `${var}`; `${var}`, `${var:=default}`, `${var:-default}`.
const VARIABLE = /\$(\$?)\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[=-])([^}]*))?\}/g;

/**
 * Flux's `postBuild.substitute`, on the YAML of each document: `${var}` takes the value (empty
 * when unset and without a default), a document annotated
 * `kustomize.toolkit.fluxcd.io/substitute: disabled` is left as it is.
 */
export function substituteVariables(
  yaml: string,
  variables: Readonly<Record<string, string>>,
): string {
  return splitDocuments(yaml)
    .map((document) =>
      SUBSTITUTE_DISABLED.test(document)
        ? document
        : document.replace(
            VARIABLE,
            (
              _whole,
              escaped: string,
              name: string,
              operator: string | undefined,
              fallback: string | undefined,
            ) => {
              if (escaped === '$') return `\${${name}${operator ?? ''}${fallback ?? ''}}`;
              const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
              if (value !== undefined && !(operator?.startsWith(':') === true && value === '')) {
                return value;
              }
              return fallback ?? '';
            },
          ),
    )
    .join('');
}

/** Splits a YAML stream before each `---` line, keeping every character. */
function splitDocuments(yaml: string): string[] {
  const parts = yaml.split(/(?=^---[ \t]*(?:#.*)?$)/m);
  return parts.length === 0 ? [yaml] : parts;
}

const FLUX_PREFIX = 'kustomize.toolkit.fluxcd.io/';

/**
 * Objects Flux leaves alone, so driftgate does too: `kustomize.toolkit.fluxcd.io/ssa: Ignore`
 * (never applied), `IfNotPresent` (created once, then never corrected) and
 * `kustomize.toolkit.fluxcd.io/reconcile: disabled`. Read from Git's manifest only: an annotation
 * added in the cluster would otherwise let anyone opt an object out of driftgate.
 */
export function isLeftAloneByFlux(document: RenderedDocument): boolean {
  if (!document.json.includes(FLUX_PREFIX)) return false;
  const object = JSON.parse(document.json) as {
    metadata?: { annotations?: Record<string, unknown> };
  };
  const annotations = object.metadata?.annotations ?? {};
  const ssa = annotations[`${FLUX_PREFIX}ssa`];
  const reconcile = annotations[`${FLUX_PREFIX}reconcile`];
  return (
    (typeof ssa === 'string' && ['ignore', 'ifnotpresent'].includes(ssa.toLowerCase())) ||
    (typeof reconcile === 'string' && reconcile.toLowerCase() === 'disabled')
  );
}
