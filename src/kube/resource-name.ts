// The resource name the API server serves a kind under (`Deployment` → `deployments`), for the
// built-in kinds and CRDs that follow Kubernetes' English plural, which is nearly all of them.

// Kinds whose name is already plural.
const IRREGULAR: Readonly<Record<string, string>> = { Endpoints: 'endpoints' };

export function resourceOf(kind: string): string {
  const irregular = IRREGULAR[kind];
  if (irregular !== undefined) return irregular;
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}
