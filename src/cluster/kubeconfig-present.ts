// Whether the cluster's credentials exist, checked without loading the Kubernetes client: a
// webhook that watches no cluster never pays for the client's code (tens of MB resident).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DriftgateError, errorCodes } from '../desired/errors.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Is there a kubeconfig (KUBECONFIG, ~/.kube/config) or an in-cluster service account to watch
 * the cluster with, under `cluster.watch: setting`? `true` without any is a config error.
 */
export function kubeConfigPresent(
  setting: 'auto' | boolean,
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): boolean {
  if (setting === false) return false;
  const found =
    (env.KUBECONFIG !== undefined && env.KUBECONFIG !== '') ||
    existsSync(join(env.HOME ?? homedir(), '.kube', 'config')) ||
    (env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(join(serviceAccountDir, 'token')));
  if (!found && setting === true) {
    throw new DriftgateError(
      errorCodes.config,
      'cluster.watch is true, but there is no KUBECONFIG, no ~/.kube/config and no in-cluster service account token',
    );
  }
  return found;
}
