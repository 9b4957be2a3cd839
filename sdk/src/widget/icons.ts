/**
 * Inline SVG icons (24×24, drawn with `currentColor`). Emoji glyphs render as
 * empty boxes where no emoji font is installed; these render everywhere and
 * follow the page's text colour. Icons are decorative (`aria-hidden`): the
 * button around each one carries the accessible name.
 */
const SVG = "http://www.w3.org/2000/svg";

const PATHS = {
  up: "M2 10h4v11H2zm6 11h9.2a2 2 0 0 0 2-1.6l1.3-7a2 2 0 0 0-2-2.4H14l.7-3.6a2.2 2.2 0 0 0-2.1-2.6L8 10z",
  // The same hand, turned upside down.
  down: "M22 14h-4V3h4zm-6-11H6.8a2 2 0 0 0-2 1.6l-1.3 7a2 2 0 0 0 2 2.4H10l-.7 3.6a2.2 2.2 0 0 0 2.1 2.6L16 14z",
  star: "M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3l-5.9 3.3 1.3-6.6-4.9-4.6 6.6-.8z",
} as const;

export type IconName = keyof typeof PATHS;

export function icon(doc: Document, name: IconName, className: string): SVGSVGElement {
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "1em");
  svg.setAttribute("height", "1em");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  const path = doc.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}
