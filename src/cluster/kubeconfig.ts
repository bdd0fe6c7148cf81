// Where the cluster's credentials come from: a kubeconfig (KUBECONFIG, then ~/.kube/config) or,
// inside a pod, its service account, in client-node's usual order. `auto` watches the cluster
// only when one of them exists; a webhook started on a laptop without any stays Git-only.
// Tokens, client certificates and CAs are read here; client-node is loaded only for what they
// do not cover (exec plugins, auth providers, passwords, impersonation, proxies).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { DriftgateError, errorCodes } from '../desired/errors.js';
import {
  connectionFrom,
  connectionOfKubeConfig,
  inClusterSettings,
  kubeconfigSettings,
  type ClusterConnection,
} from './connection.js';
import { kubeConfigPresent, SERVICE_ACCOUNT_DIR } from './kubeconfig-present.js';

export interface ResolveOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Where a pod's service account is mounted. */
  readonly serviceAccountDir?: string;
}

export async function resolveKubeConfig(
  setting: 'auto' | boolean,
  options: ResolveOptions = {},
): Promise<ClusterConnection | undefined> {
  const env = options.env ?? process.env;
  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (!kubeConfigPresent(setting, env, serviceAccountDir)) return undefined;
  const files = defaultKubeconfigFiles(env);
  if (files.length > 0) {
    const settings = kubeconfigSettings(files);
    if (settings !== undefined) return connectionFrom(settings);
  } else if (existsSync(join(serviceAccountDir, 'token'))) {
    return connectionFrom(inClusterSettings(env, serviceAccountDir));
  }
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  if (kubeConfig.getCurrentCluster() === null) {
    throw new DriftgateError(errorCodes.config, 'the kubeconfig names no current cluster');
  }
  return connectionOfKubeConfig(kubeConfig);
}

/** The files client-node's loadFromDefault() reads, in its order; none inside a pod. */
function defaultKubeconfigFiles(env: NodeJS.ProcessEnv): string[] {
  if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== '') {
    return env.KUBECONFIG.split(delimiter).filter((file) => file !== '');
  }
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

/** A kubeconfig named in the config (`key`), e.g. the hub's for Argo CD discovery. */
export async function loadKubeConfigFile(file: string, key: string): Promise<ClusterConnection> {
  const problem = (error: unknown) =>
    new DriftgateError(
      errorCodes.config,
      `${key}: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  let settings;
  try {
    settings = kubeconfigSettings([file]);
  } catch (error) {
    throw problem(error);
  }
  if (settings !== undefined) return connectionFrom(settings);
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(file);
  } catch (error) {
    throw problem(error);
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new DriftgateError(errorCodes.config, `${key}: ${file} names no current cluster`);
  }
  return connectionOfKubeConfig(kubeConfig);
}
