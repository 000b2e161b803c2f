// ONE tooltip for every view: labelled lines ("label: value", numbers through the one formatter), an optional
// image thumbnail, placed beside the pointer and kept inside its host (so it never widens the view). Text only
// (textContent): labels and values may come from data.

import { fmt } from "./format";
import { h, setHidden } from "./ui";

export interface TipLine {
  /** Shown before the value, followed by ": ". */
  label?: string;
  /** A number goes through fmt (4 significant digits); a string is shown as is. */
  value: string | number | null | undefined;
  /** Extra class of the line (tests and styles find lines by it). */
  cls?: string;
  strong?: boolean;
  muted?: boolean;
}

export interface TipImage {
  source: CanvasImageSource;
  /** Source rectangle; the whole source when omitted. */
  sx?: number;
  sy?: number;
  sw?: number;
  sh?: number;
  /** Longest side of the thumbnail (CSS px). */
  size?: number;
}

export interface Tooltip {
  readonly el: HTMLElement;
  /** Replace the content. */
  show(lines: readonly TipLine[], image?: TipImage | null): void;
  /** Update one line (found by its `cls`) without rebuilding the others; adds it when missing. */
  line(cls: string, line: TipLine): void;
  /** Place near (x, y), CSS px in the host's coordinates, flipping to stay inside the host. */
  place(x: number, y: number): void;
  hide(): void;
  readonly visible: boolean;
}

export const TOOLTIP_CSS = `
.fx-tooltip { position: absolute; z-index: 10; pointer-events: none; line-height: 1.35; max-width: min(360px, 100%);
  padding: 4px 8px; background: var(--jp-layout-color0, #fff); color: var(--jp-ui-font-color0, #000);
  border: 1px solid var(--jp-border-color1, #bdbdbd); border-radius: 3px; box-shadow: 0 1px 4px rgba(0,0,0,.25);
  white-space: pre-wrap; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; left: 0; top: 0; }
.fx-tooltip .fx-tt-label { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-tooltip .fx-tt-strong { font-weight: 600; }
.fx-tooltip .fx-tt-muted { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-tooltip canvas.fx-tt-image { display: block; margin-top: 4px; image-rendering: pixelated;
  border: 1px solid var(--jp-border-color2, #e0e0e0); }
`;

function text(v: TipLine["value"]): string {
  if (typeof v === "number") return fmt(v);
  return v === null || v === undefined ? "" : String(v);
}

/** Fill `row` (new, or the line of the same class already shown: updated in place, so that a reference to it
 *  held elsewhere — a test waiting for its text — stays valid). */
function fillLine(l: TipLine, row: HTMLElement = h("div")): HTMLElement {
  row.className = ["fx-tt-line", l.cls, l.strong ? "fx-tt-strong" : "", l.muted ? "fx-tt-muted" : ""].filter(Boolean).join(" ");
  const parts: HTMLElement[] = [];
  if (l.label) parts.push(h("span", { class: "fx-tt-label", text: `${l.label}: ` }));
  parts.push(h("span", { class: "fx-tt-val", text: text(l.value) }));
  row.replaceChildren(...parts);
  return row;
}

/** A tooltip inside `host` (which must be positioned: the kit makes .fx-root position: relative). */
export function createTooltip(host: HTMLElement): Tooltip {
  const el = h("div", { class: "fx-tooltip", attrs: { role: "tooltip" } });
  const thumb = h("canvas", { class: "fx-tt-image" });
  setHidden(el, true);
  host.appendChild(el);
  let visible = false;

  const drawImage = (img: TipImage | null | undefined) => {
    if (!img) {
      thumb.remove();
      return;
    }
    const sw = img.sw ?? (img.source as { width: number }).width;
    const sh = img.sh ?? (img.source as { height: number }).height;
    if (!(sw > 0 && sh > 0)) return;
    const size = img.size ?? 72;
    const s = size / Math.max(sw, sh);
    thumb.width = Math.max(1, Math.round(sw * s));
    thumb.height = Math.max(1, Math.round(sh * s));
    const ctx = thumb.getContext("2d");
    if (!ctx) return;
    ctx.imageSmoothingEnabled = s < 1;
    ctx.drawImage(img.source, img.sx ?? 0, img.sy ?? 0, sw, sh, 0, 0, thumb.width, thumb.height);
    el.appendChild(thumb);
  };

  return {
    el,
    show(lines, image) {
      const reuse = (l: TipLine) => (l.cls ? (el.querySelector(`.fx-tt-line.${CSS.escape(l.cls)}`) as HTMLElement | null) : null);
      el.replaceChildren(...lines.map((l) => fillLine(l, reuse(l) ?? undefined)));
      drawImage(image);
      setHidden(el, false);
      visible = true;
    },
    line(cls, l) {
      const old = el.querySelector(`.fx-tt-line.${CSS.escape(cls)}`) as HTMLElement | null;
      if (old) {
        fillLine({ ...l, cls }, old);
        return;
      }
      const next = fillLine({ ...l, cls });
      if (thumb.parentElement === el) el.insertBefore(next, thumb);
      else el.appendChild(next);
    },
    place(x, y) {
      const pad = 14;
      const hostW = host.clientWidth;
      const hostH = Math.max(host.clientHeight, y + pad);
      el.style.left = "0px"; // measure at its natural width, not squeezed against the right edge
      const tw = el.offsetWidth;
      const th = el.offsetHeight;
      let left = x + pad;
      let top = y + pad;
      if (left + tw > hostW) left = x - pad - tw >= 0 ? x - pad - tw : Math.max(0, hostW - tw);
      if (top + th > hostH && y - pad - th >= 0) top = y - pad - th;
      el.style.left = `${Math.round(left)}px`;
      el.style.top = `${Math.round(top)}px`;
    },
    hide() {
      setHidden(el, true);
      visible = false;
    },
    get visible() {
      return visible;
    },
  };
}
