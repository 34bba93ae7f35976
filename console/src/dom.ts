/**
 * The one DOM helper: elements built from a tag, attributes and children.
 * Text goes in as text nodes, never as markup. There is no `style`
 * attribute: the Content-Security-Policy refuses inline styles, so looks
 * come from app.css through classes.
 */

/** Attributes of {@link h}: `true` sets an empty attribute, `false` and `undefined` leave it out. */
export type Attrs = Readonly<Record<string, string | number | boolean | undefined>> & { readonly style?: never };

/** A new `<tag>` with `attrs` and `children`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  return filled(document.createElement(tag), attrs, children);
}

/** Something on screen that re-reads its words when the language changes. */
export interface View {
  readonly el: HTMLElement;
  retranslate(): void;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * A new SVG `<tag>` with `attrs` and `children`, like {@link h}. Geometry
 * goes in as attributes (`d`, `x`, `width`), which the CSP allows; looks
 * come from app.css through classes.
 */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  return filled(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** `el` with `attrs` set (true: present and empty; false or undefined: absent) and `children` appended. */
function filled<E extends Element>(el: E, attrs: Attrs, children: (Node | string)[]): E {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) {
      el.setAttribute(name, "");
    } else if (value !== false && value !== undefined) {
      el.setAttribute(name, String(value));
    }
  }
  el.append(...children);
  return el;
}
