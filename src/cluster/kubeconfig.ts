// Where the cluster's credentials come from: a kubeconfig (KUBECONFIG, then ~/.kube/config) or,
// inside a pod, its service account, in client-node's usual order. `auto` watches the cluster
// only when one of them exists; a webhook started on a laptop without any stays Git-only.
import { KubeConfig } from '@kubernetes/client-node';
import { DriftgateError, errorCodes } from '../desired/errors.js';
import { kubeConfigPresent } from './kubeconfig-present.js';

export function resolveKubeConfig(
  setting: 'auto' | boolean,
  env: NodeJS.ProcessEnv = process.env,
): KubeConfig | undefined {
  if (!kubeConfigPresent(setting, env)) return undefined;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  if (kubeConfig.getCurrentCluster() === null) {
    throw new DriftgateError(errorCodes.config, 'the kubeconfig names no current cluster');
  }
  return kubeConfig;
}

/** A kubeconfig named in the config (`key`), e.g. the hub's for Argo CD discovery. */
export function loadKubeConfigFile(file: string, key: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(file);
  } catch (error) {
    throw new DriftgateError(
      errorCodes.config,
      `${key}: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new DriftgateError(errorCodes.config, `${key}: ${file} names no current cluster`);
  }
  return kubeConfig;
}
