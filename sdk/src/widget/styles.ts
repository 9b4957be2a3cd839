/**
 * Default look of the widget. Everything is a class with the configured
 * prefix, colours and sizes are custom properties (set them on any ancestor),
 * and nothing uses `!important`, so page styles win.
 */
export function defaultCss(p: string): string {
  return `
.${p}-widget{--${p}-gap:.375rem;--${p}-fg:inherit;--${p}-muted:#6b7280;--${p}-border:#d1d5db;--${p}-bg:transparent;--${p}-active-bg:#e5e7eb;--${p}-accent:#2563eb;--${p}-radius:999px;--${p}-font-size:.875rem;--${p}-star:#f59e0b;display:flex;flex-direction:column;gap:var(--${p}-gap);margin-top:var(--${p}-gap);font-size:var(--${p}-font-size);color:var(--${p}-fg)}
.${p}-widget[hidden],.${p}-widget [hidden]{display:none}
.${p}-icon{display:block;width:1.1em;height:1.1em}
.${p}-thumb{display:inline-flex;align-items:center}
.${p}-stars{display:inline-flex;gap:0}
.${p}-star{font:inherit;color:var(--${p}-muted);background:none;border:0;padding:.25rem .125rem;cursor:pointer}
.${p}-star[data-on]{color:var(--${p}-star)}
.${p}-star:focus-visible{outline:2px solid var(--${p}-accent);outline-offset:2px}
.${p}-bar,.${p}-reasons{display:flex;flex-wrap:wrap;align-items:center;gap:var(--${p}-gap)}
.${p}-thumb,.${p}-chip,.${p}-copy,.${p}-send{font:inherit;color:inherit;background:var(--${p}-bg);border:1px solid var(--${p}-border);border-radius:var(--${p}-radius);padding:.25rem .625rem;cursor:pointer;line-height:1.2}
.${p}-thumb[aria-pressed="true"],.${p}-chip[aria-pressed="true"]{background:var(--${p}-active-bg);border-color:var(--${p}-accent)}
.${p}-thumb:focus-visible,.${p}-chip:focus-visible,.${p}-copy:focus-visible,.${p}-send:focus-visible,.${p}-comment-input:focus-visible{outline:2px solid var(--${p}-accent);outline-offset:2px}
.${p}-panel{display:flex;flex-direction:column;gap:var(--${p}-gap)}
.${p}-legend,.${p}-status{color:var(--${p}-muted)}
.${p}-comment{display:flex;gap:var(--${p}-gap);align-items:flex-end}
.${p}-comment-input{flex:1;font:inherit;min-height:2.25rem;padding:.375rem;border:1px solid var(--${p}-border);border-radius:.375rem;resize:vertical}
`;
}

/** Adds the default stylesheet to `doc` once per prefix. */
export function injectStyles(doc: Document, prefix: string): void {
  const marker = `data-${prefix}-styles`;
  if (doc.head.querySelector(`style[${marker}]`)) return;
  const style = doc.createElement("style");
  style.setAttribute(marker, "");
  style.textContent = defaultCss(prefix);
  doc.head.appendChild(style);
}
