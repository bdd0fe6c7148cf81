// A kubeconfig file's text for a test API server: one cluster, one user, one context.
import { dump } from 'js-yaml';

export function kubeconfigText(options: {
  readonly server: string;
  readonly caCert?: string;
  readonly insecure?: boolean;
  readonly user: Readonly<Record<string, unknown>>;
  readonly name?: string;
}): string {
  const name = options.name ?? 'test';
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: options.server,
          ...(options.caCert === undefined
            ? {}
            : { 'certificate-authority-data': Buffer.from(options.caCert).toString('base64') }),
          ...(options.insecure === true ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name, user: options.user }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}
