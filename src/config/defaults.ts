// driftgate's built-in defaults and the platform presets: the values the config schema falls back
// to, kept apart so the schema, the docs and the tests read the same constants.

/**
 * The service accounts kube-controller-manager's controllers write with when it runs with
 * `--use-service-account-credentials` (as kubeadm and most distributions run it), Kubernetes
 * 1.28 to 1.34. From kubernetes/kubernetes: the names passed to the client builder in
 * cmd/kube-controller-manager/app, and the bindings of
 * plugin/pkg/auth/authorizer/rbac/bootstrappolicy (controller_policy.go, namespace_policy.go),
 * which say what each may write. A controller behind a feature gate is listed too: a name that
 * never writes costs nothing, a missing one denies the control plane.
 */
const KUBE_CONTROLLER_MANAGER_ACCOUNTS = [
  // Workloads: their own objects' scale, finalizers and annotations, and what they own.
  'deployment-controller', // Deployments (rollback, finalizers), ReplicaSets, Pods
  'replicaset-controller', // ReplicaSets, Pods
  'replication-controller', // ReplicationControllers, Pods
  'statefulset-controller', // Pods, ControllerRevisions, PersistentVolumeClaims (retention)
  'daemon-set-controller', // Pods, ControllerRevisions
  'job-controller', // Jobs, Pods
  'cronjob-controller', // CronJobs, Jobs, Pods
  'ttl-after-finished-controller', // deletes finished Jobs
  'horizontal-pod-autoscaler', // the scale subresource of any kind
  'disruption-controller', // PodDisruptionBudget status, Pod conditions
  // Garbage, namespaces, quota.
  'generic-garbage-collector', // any object: ownerReferences, finalizers, deletes
  'namespace-controller', // deletes everything in a terminating namespace
  'pod-garbage-collector', // deletes orphaned and terminated Pods
  'resourcequota-controller', // ResourceQuota status
  // Service accounts, certificates, tokens.
  'service-account-controller', // creates each namespace's `default` ServiceAccount
  'root-ca-cert-publisher', // creates and updates each namespace's kube-root-ca.crt ConfigMap
  'legacy-service-account-token-cleaner', // labels and deletes unused token Secrets (1.28+)
  'certificate-controller', // CertificateSigningRequests
  'bootstrap-signer', // kube-public's cluster-info ConfigMap
  'token-cleaner', // expired bootstrap token Secrets
  'kube-apiserver-serving-clustertrustbundle-publisher', // ClusterTrustBundles (gated)
  'podcertificaterequestcleaner', // PodCertificateRequests (gated)
  // Networking.
  'endpoint-controller', // Endpoints of Services with a selector
  'endpointslice-controller', // EndpointSlices, Service finalizers
  'endpointslicemirroring-controller', // EndpointSlices, Endpoints finalizers
  'service-cidrs-controller', // ServiceCIDRs (gated)
  // Nodes and cloud: node-controller is also the taint-eviction and node-lifecycle identity.
  'node-controller', // Nodes, Pod deletion and conditions
  'ttl-controller', // Node annotations
  'route-controller', // Node status (cloud routes)
  'service-controller', // Service status and finalizers (cloud load balancers)
  // Storage.
  'persistent-volume-binder', // PersistentVolumes, PersistentVolumeClaims (binding)
  'attachdetach-controller', // VolumeAttachments, Node status
  'expand-controller', // PersistentVolumes (capacity), PersistentVolumeClaim status
  'ephemeral-volume-controller', // creates Pods' ephemeral PersistentVolumeClaims
  'pvc-protection-controller', // PersistentVolumeClaim finalizers
  'pv-protection-controller', // PersistentVolume finalizers
  'volumeattributesclass-protection-controller', // VolumeAttributesClass finalizers (gated)
  'selinux-warning-controller', // events only (gated)
  // Dynamic resource allocation (gated).
  'resource-claim-controller', // ResourceClaims, Pod status
  'device-taint-eviction-controller', // deletes Pods
  // The API itself.
  'clusterrole-aggregation-controller', // the rules of aggregated ClusterRoles
  'validatingadmissionpolicy-status-controller', // ValidatingAdmissionPolicy status
  'storage-version-garbage-collector', // StorageVersions (gated)
  'storage-version-migrator-controller', // rewrites objects unchanged to migrate them (gated)
] as const;

/**
 * Platform controllers that write to objects Git may declare, exempt only when the config names
 * their preset (`exemptIdentities.presets`): each runs only where its platform is installed.
 */
export const EXEMPT_PRESETS = {
  openshift: [
    // openshift-controller-manager: adds the image pull Secrets (and their dockercfg Secrets)
    // to every ServiceAccount.
    'system:serviceaccount:openshift-infra:serviceaccount-pull-secrets-controller',
    // service-ca-operator's controller: serving certificate Secrets, and the service CA
    // injected into annotated ConfigMaps, APIServices, CRDs and webhook configurations.
    'system:serviceaccount:openshift-service-ca:service-ca',
    // OpenShift's kube-controller-manager: openshift-service-ca.crt in every namespace.
    'system:serviceaccount:kube-system:service-ca-cert-publisher',
  ],
  'cert-manager': [
    // The controller: the Secrets of Certificates, which carry no controller ownerReference
    // unless it runs with --enable-certificate-owner-ref.
    'system:serviceaccount:cert-manager:cert-manager',
    // cainjector: caBundle fields (also covered by builtins.caBundles for every writer).
    'system:serviceaccount:cert-manager:cert-manager-cainjector',
  ],
} as const satisfies Record<string, readonly string[]>;

export type ExemptPreset = keyof typeof EXEMPT_PRESETS;

export const defaults = {
  listenPort: 8443,
  maxDeletionShare: 0.5,
  cacheDir: '.driftgate-cache',
  pollIntervalMs: 30_000,
  sourceNamespace: 'default',
  breakGlassTtlMs: 4 * 3_600_000,
  overrideConfigMap: 'driftgate-override',
  excludedNamespaces: [
    'kube-system',
    'kube-public',
    'kube-node-lease',
    'argocd',
    'flux-system',
    'cert-manager',
  ],
  // Never argocd-server: it carries out UI users' edits and deletes (DESIGN.md §3).
  syncUsers: [
    'system:serviceaccount:argocd:argocd-application-controller',
    'system:serviceaccount:kube-system:argocd-manager',
    'system:serviceaccount:flux-system:kustomize-controller',
    'system:serviceaccount:flux-system:helm-controller',
  ],
  // Named, never "anything in kube-system" (DESIGN.md §3).
  exemptUsers: [
    'system:kube-controller-manager',
    'system:kube-scheduler',
    'system:node:*',
    ...KUBE_CONTROLLER_MANAGER_ACCOUNTS.map((name) => `system:serviceaccount:kube-system:${name}`),
  ],
  adminGroups: ['system:masters'],
  scanIntervalMs: 10 * 60_000,
  scanQps: 20,
} as const;
