/** Work bound for {@link levenshtein}: about 20 ms of CPU on a laptop. */
export const MAX_EDIT_CELLS = 25_000_000;

/**
 * Levenshtein distance (insertions, deletions, substitutions) between two
 * strings, counted in Unicode code points.
 *
 * Common prefix and suffix are skipped first, so local edits of long texts are
 * cheap. Returns `undefined` when the differing middle parts would need more
 * than `maxCells` DP cells, so the page is never blocked.
 */
export function levenshtein(a: string, b: string, maxCells = MAX_EDIT_CELLS): number | undefined {
  if (a === b) return 0;
  let s = Array.from(a);
  let t = Array.from(b);
  let start = 0;
  while (start < s.length && start < t.length && s[start] === t[start]) start++;
  let endS = s.length;
  let endT = t.length;
  while (endS > start && endT > start && s[endS - 1] === t[endT - 1]) {
    endS--;
    endT--;
  }
  s = s.slice(start, endS);
  t = t.slice(start, endT);
  if (s.length === 0) return t.length;
  if (t.length === 0) return s.length;
  if (s.length * t.length > maxCells) return undefined;
  if (s.length < t.length) [s, t] = [t, s];

  let prev = new Uint32Array(t.length + 1);
  let curr = new Uint32Array(t.length + 1);
  for (let j = 0; j <= t.length; j++) prev[j] = j;
  for (let i = 1; i <= s.length; i++) {
    curr[0] = i;
    const si = s[i - 1];
    for (let j = 1; j <= t.length; j++) {
      const cost = si === t[j - 1] ? 0 : 1;
      curr[j] = Math.min(prev[j]! + 1, curr[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[t.length]!;
}
