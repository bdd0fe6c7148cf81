// The resource name the API server serves a kind under (`Deployment` → `deployments`), for the
// built-in kinds and CRDs that follow Kubernetes' English plural, which is nearly all of them.

export function resourceOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}
