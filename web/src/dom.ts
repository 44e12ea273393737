/**
 * A tiny element builder. Text goes in only as text nodes, never as HTML, so nothing a user
 * writes is ever interpreted as markup.
 */
export type Child = Node | string | null | undefined | false;
export type Attrs = Record<string, string | boolean | undefined | ((event: Event) => void)>;

/**
 * Creates an element. Attributes named `on…` with a function value become event listeners;
 * `true` sets an empty attribute, `false` and `undefined` leave it out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else el.setAttribute(name, value === true ? '' : value);
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces an element's content with the given children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  while (parent.firstChild !== null) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

export function setText(el: Element, text: string): void {
  el.textContent = text;
}

/** The sentence to show for anything thrown by the SDK. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The hour and minute of an ISO time, for a message row. */
export function formatTime(iso: string): string {
  return timeFormat.format(new Date(iso));
}

/** The full date and time of an ISO time, for a tooltip. */
export function formatDateTime(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}
