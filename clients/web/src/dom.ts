// Building the page: elements from plain values (text is never parsed as HTML, which the CSP and
// the buyer's safety both want), and the one way an error is shown.
import { ApiError } from './api.ts';

export type Child = Node | string | null | false | undefined;

/** Builds an element; text is always text (never parsed as HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false) el.setAttribute(key, value);
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

export function failure(err: unknown): HTMLElement {
  const message = err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
  return h('p', { class: 'error', role: 'alert' }, message);
}
