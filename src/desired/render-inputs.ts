// Which directories and files of a repository a source's render reads, so that a commit that
// touches none of them is not rendered again. Known for plain manifests (the source's path), for
// kustomize (the path and every directory its kustomizations reach) and for Helm (the chart, the
// charts it depends on from the repository, its value files); unknown for commands, whose
// inputs only running them tells, so they are rendered again on every new commit.
import { readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { load } from 'js-yaml';
import type { SourceConfig } from '../config/config.js';
import { isJsonObject } from '../kube/object.js';
import { KUSTOMIZATION_FILES, renderKindAt } from './render.js';

// A kustomization that reaches more directories than this is rendered on every commit.
const MAX_DIRECTORIES = 1_000;

/**
 * The directories and files (relative to the repository's root, `.` for the root itself) that
 * the render of `source` in `checkout` reads; undefined when they cannot be known.
 */
export function renderInputs(source: SourceConfig, checkout: string): string[] | undefined {
  const kind = renderKindAt(source, join(checkout, source.path));
  if (kind === 'plain') return [source.path];
  if (kind === 'kustomize') return kustomizeInputs(checkout, source.path);
  if (kind === 'helm') return helmInputs(source, checkout);
  return undefined;
}

/**
 * The chart's directory (with the dependencies vendored under its `charts/`), the charts it
 * depends on through `file://` (watched too: whether Helm reads them there or from their copy
 * under `charts/`, no change to them is missed), and the value files.
 */
function helmInputs(source: SourceConfig, checkout: string): string[] | undefined {
  const charts = new Set<string>();
  const pending = [source.path];
  for (let chart = pending.pop(); chart !== undefined; chart = pending.pop()) {
    if (charts.has(chart)) continue;
    if (charts.size >= MAX_DIRECTORIES) return undefined;
    charts.add(chart);
    for (const file of ['Chart.yaml', 'requirements.yaml']) {
      const dependencies = readYaml(join(checkout, chart, file));
      if (dependencies === 'unreadable') return undefined;
      const list = dependencies?.['dependencies'];
      if (!Array.isArray(list)) continue;
      for (const dependency of list) {
        const repository = isJsonObject(dependency) ? dependency['repository'] : undefined;
        if (typeof repository !== 'string' || !repository.startsWith('file://')) continue;
        const target = posix.normalize(posix.join(chart, repository.slice('file://'.length)));
        if (target === '..' || target.startsWith('../') || posix.isAbsolute(target))
          return undefined;
        pending.push(target);
      }
    }
  }
  const inputs = [...charts];
  for (const file of source.helm?.valueFiles ?? []) {
    // As the renderer reads them: relative to the chart, or to the repository's root with `/`.
    const path = posix.normalize(
      file.startsWith('/') ? file.slice(1) : posix.join(source.path, file),
    );
    if (path === '..' || path.startsWith('../')) return undefined;
    inputs.push(path);
  }
  return inputs;
}

/** True when one of the `changed` files is one of the `inputs` or lies in one of them. */
export function touchesInputs(changed: readonly string[], inputs: readonly string[]): boolean {
  return changed.some((file) =>
    inputs.some((dir) => dir === '.' || file === dir || file.startsWith(`${dir}/`)),
  );
}

/**
 * The kustomization's directory and every directory reached from it: through `resources`,
 * `components` and `bases`, recursively, and through any other value that steps out of it
 * (`../patch.yaml`), which kustomize refuses by default but a build option can allow.
 */
function kustomizeInputs(checkout: string, path: string): string[] | undefined {
  const found = new Set<string>();
  const pending = [path];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    if (found.has(dir)) continue;
    if (found.size >= MAX_DIRECTORIES) return undefined;
    found.add(dir);
    const kustomization = readKustomization(join(checkout, dir));
    if (kustomization === 'unreadable') return undefined;
    if (kustomization === undefined) continue;
    // Charts pulled from a Helm repository change without a commit here.
    if (kustomization['helmCharts'] !== undefined) return undefined;
    for (const reference of references(kustomization)) {
      const target = posix.normalize(posix.join(dir, reference));
      // Out of the repository: what changes there no commit of it tells.
      if (target === '..' || target.startsWith('../')) return undefined;
      const kind = kindOf(join(checkout, target));
      if (kind === 'directory') pending.push(target);
      else if (kind === 'file') pending.push(posix.dirname(target));
      // A remote base (`https://…`, `github.com/org/repo//path?ref=main`) may move without a
      // commit here: such a source is rendered on every commit, as it was before this check.
      else if (isRemote(reference)) return undefined;
      // Anything else names nothing that exists, and the render fails on it.
    }
  }
  return [...found];
}

/** The kustomization in `directory`; undefined when there is none. */
function readKustomization(directory: string): Record<string, unknown> | 'unreadable' | undefined {
  for (const name of KUSTOMIZATION_FILES) {
    const kustomization = readYaml(join(directory, name));
    if (kustomization !== undefined) return kustomization;
  }
  return undefined;
}

/** A YAML mapping from a file; undefined when there is no such file. */
function readYaml(file: string): Record<string, unknown> | 'unreadable' | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = load(text);
    return isJsonObject(value) ? value : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

const DIRECTORY_FIELDS = ['resources', 'components', 'bases'];

/**
 * The paths the kustomization names: every entry of `resources`, `components` and `bases`, and
 * any string anywhere else that steps up (`../`).
 */
function references(kustomization: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const field of DIRECTORY_FIELDS) {
    const entries = kustomization[field];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) if (typeof entry === 'string') found.push(entry);
  }
  const pending: unknown[] = [kustomization];
  for (let value = pending.pop(); value !== undefined; value = pending.pop()) {
    if (typeof value === 'string') {
      if (value.startsWith('../')) found.push(value);
    } else if (Array.isArray(value)) {
      pending.push(...(value as unknown[]));
    } else if (isJsonObject(value)) {
      pending.push(...Object.values(value));
    }
  }
  return found;
}

// kustomize's remote targets: URLs, go-getter forms, and host/org/repo shorthands.
function isRemote(reference: string): boolean {
  return (
    reference.includes('://') ||
    reference.startsWith('git::') ||
    reference.startsWith('git@') ||
    reference.includes('?ref=') ||
    reference.includes('//') ||
    /^[a-z0-9-]+(\.[a-z0-9-]+)+\//i.test(reference)
  );
}

function kindOf(path: string): 'directory' | 'file' | undefined {
  try {
    const stat = statSync(path);
    return stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}
