/**
 * Reports copies whose selection starts or ends inside a tracked element.
 * One listener on the document serves every message: browsers fire `copy`
 * at the selection, which need not be inside the element that owns it.
 */
export function watchCopies<T>(
  doc: Document,
  ownerOf: (node: Node) => T | undefined,
  report: (owner: T, copiedChars: number) => void,
): () => void {
  const onCopy = (event: Event) => {
    const selection = doc.getSelection();
    const text = selection?.toString() ?? "";
    const nodes = [selection?.anchorNode, selection?.focusNode, event.target as Node | null];
    for (const node of nodes) {
      const owner = node ? ownerOf(node) : undefined;
      if (owner !== undefined) {
        report(owner, countChars(text));
        return;
      }
    }
  };
  doc.addEventListener("copy", onCopy, true);
  return () => doc.removeEventListener("copy", onCopy, true);
}

/** Length in Unicode code points, as a person would count characters. */
export function countChars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
