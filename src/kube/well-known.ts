// Every annotation and label key driftgate reads or writes, in one place.
// The `driftgate.io/` prefix is reserved: such keys are never compared with Git.

export const DRIFTGATE_PREFIX = 'driftgate.io/';

export const annotations = {
  breakGlass: 'driftgate.io/break-glass',
  breakGlassBy: 'driftgate.io/break-glass-by',
  breakGlassAt: 'driftgate.io/break-glass-at',
  breakGlassExpires: 'driftgate.io/break-glass-expires',
  drift: 'driftgate.io/drift',
  driftBy: 'driftgate.io/drift-by',
  driftAt: 'driftgate.io/drift-at',
  revision: 'driftgate.io/revision',
  lastApplied: 'kubectl.kubernetes.io/last-applied-configuration',
  restartedAt: 'kubectl.kubernetes.io/restartedAt',
  argocdTrackingId: 'argocd.argoproj.io/tracking-id',
  argocdInstallationId: 'argocd.argoproj.io/installation-id',
} as const;

export const labels = {
  mode: 'driftgate.io/mode',
} as const;
