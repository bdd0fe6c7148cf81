// Values worked out once per key and kept, for what recurs on every request (a config's
// patterns and pointers, the same few quantities). Bounded: keys may come from requests, so
// past `limit` keys everything is forgotten at once and the cache fills again.
export function memoized<K, V>(compute: (key: K) => V, limit: number): (key: K) => V {
  const values = new Map<K, V>();
  return (key) => {
    if (values.has(key)) return values.get(key) as V;
    if (values.size >= limit) values.clear();
    const value = compute(key);
    values.set(key, value);
    return value;
  };
}
