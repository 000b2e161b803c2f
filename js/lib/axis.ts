// Axes and colour bars as DOM: tick marks, tick labels (text, never HTML) and a title, laid out by scale.ts.
// DOM text stays sharp at any zoom, can be selected, and the snapshot composer paints it into pictures.

import { axisLayout, type AxisLayout, type AxisSpec } from "./scale";
import { formatTicks } from "./format";
import { h, setHidden } from "./ui";
import type { Lut } from "./colormaps";
import { lutStride } from "./colormaps";

export const AXIS_FONT_PX = 11;
const LINE = 14; // line height of tick text (CSS px)
const TICK = 4; // tick mark length
const PAD = 3; // between a tick mark and its label

export const AXIS_CSS = `
.fx-axis { position: relative; flex: none; font-size: ${AXIS_FONT_PX}px; line-height: ${LINE}px;
  color: var(--jp-ui-font-color2, rgba(0,0,0,.6)); font-variant-numeric: tabular-nums; }
.fx-axis .fx-tick-mark { position: absolute; background: var(--jp-ui-font-color3, rgba(0,0,0,.38)); }
.fx-axis .fx-tick-mark.fx-group-mark { background: var(--jp-ui-font-color1, rgba(0,0,0,.7)); }
.fx-axis .fx-tick-label { position: absolute; white-space: nowrap; }
.fx-axis .fx-tick-label.fx-rotated { writing-mode: vertical-rl; transform: rotate(180deg); }
.fx-axis .fx-axis-title { position: absolute; white-space: nowrap; color: var(--jp-ui-font-color1, rgba(0,0,0,.8));
  overflow: hidden; text-overflow: ellipsis; }
.fx-axis-left .fx-axis-title { writing-mode: vertical-rl; transform: rotate(180deg); text-align: center; }
.fx-axis-bottom .fx-axis-title { text-align: center; }
.fx-colorbar-box { position: relative; flex: none; margin-top: 4px; }
.fx-colorbar-box canvas.fx-colorbar { display: block; height: 10px; border: 1px solid var(--jp-border-color2, #e0e0e0);
  box-sizing: content-box; image-rendering: auto; }
`;

/** Text width in CSS px at the axes' font (one shared canvas context). */
let measureCtx: CanvasRenderingContext2D | null = null;
export function measureText(text: string, fontFamily = "sans-serif", px = AXIS_FONT_PX): number {
  if (measureCtx === null && typeof document !== "undefined") measureCtx = document.createElement("canvas").getContext("2d");
  if (!measureCtx) return text.length * px * 0.6;
  measureCtx.font = `${px}px ${fontFamily}`;
  return Math.ceil(measureCtx.measureText(text).width);
}

export interface Axis {
  readonly el: HTMLElement;
  /**
   * Lay the axis out along `length` CSS px (left axes: top to bottom; bottom axes: left to right). `title`
   * may be empty. Returns the layout (ticks, group boundaries).
   */
  update(spec: AxisSpec, length: number, title?: string): AxisLayout;
  /** Width (left axis) or height (bottom axis) it takes, CSS px. */
  readonly thickness: number;
}

export function createAxis(side: "left" | "bottom", fontFamily: () => string, cls = ""): Axis {
  const el = h("div", { class: `fx-axis fx-axis-${side} ${cls}`.trim(), attrs: { "aria-hidden": "true" } });
  let thickness = 0;
  const measure = (s: string) => measureText(s, fontFamily());

  const update = (spec: AxisSpec, length: number, title = ""): AxisLayout => {
    const layout = axisLayout(spec, length, {
      measure,
      lineHeight: LINE,
      orientation: side === "bottom" ? "x" : "y",
    });
    const nodes: HTMLElement[] = [];
    let widest = 0;
    for (const b of layout.boundaries) {
      const m = h("div", { class: "fx-tick-mark fx-group-mark" });
      if (side === "bottom") Object.assign(m.style, { left: `${Math.round(b)}px`, top: "0px", width: "1px", height: `${TICK + 6}px` });
      else Object.assign(m.style, { top: `${Math.round(b)}px`, right: "0px", height: "1px", width: `${TICK + 6}px` });
      nodes.push(m);
    }
    // A 1 px mark at the very end of the axis would stick out by its width.
    const markAt = (pos: number) => `${Math.round(Math.min(Math.max(pos, 0), Math.max(0, length - 1)))}px`;
    for (const t of layout.ticks) {
      const w = measure(t.text);
      widest = Math.max(widest, layout.rotate ? w : side === "bottom" ? LINE : w);
      const mark = h("div", { class: "fx-tick-mark" });
      const lab = h("span", { class: "fx-tick-label", text: t.text });
      if (t.full) lab.title = t.full;
      if (side === "bottom") {
        Object.assign(mark.style, { left: markAt(t.pos), top: "0px", width: "1px", height: `${TICK}px` });
        if (layout.rotate) {
          lab.classList.add("fx-rotated");
          lab.dataset.rotate = "-90";
          Object.assign(lab.style, { left: `${Math.round(t.pos - LINE / 2)}px`, top: `${TICK + PAD}px` });
        } else {
          // Keep labels over the axis: the first and last may not stick out past its ends.
          const left = Math.min(Math.max(t.pos - w / 2, 0), Math.max(0, length - w));
          lab.style.left = `${Math.round(left)}px`;
          lab.style.top = `${TICK + 1}px`;
        }
      } else {
        Object.assign(mark.style, { top: markAt(t.pos), right: "0px", height: "1px", width: `${TICK}px` });
        const top = Math.min(Math.max(t.pos - LINE / 2, 0), Math.max(0, length - LINE));
        Object.assign(lab.style, { top: `${Math.round(top)}px`, right: `${TICK + PAD}px` });
      }
      nodes.push(mark, lab);
    }
    const titleEl = h("div", { class: "fx-axis-title", text: title });
    if (side === "bottom") {
      const labels = layout.ticks.length ? (layout.rotate ? widest : LINE) : 0;
      const titleTop = TICK + PAD + labels + (labels ? 2 : 0);
      Object.assign(titleEl.style, { left: "0px", width: `${Math.round(length)}px`, top: `${titleTop}px` });
      thickness = titleTop + (title ? LINE + 2 : 0);
      el.style.width = `${Math.round(length)}px`;
      el.style.height = `${thickness}px`;
    } else {
      const labels = layout.ticks.length ? widest + PAD : 0;
      thickness = TICK + labels + (title ? LINE + 4 : 0);
      Object.assign(titleEl.style, { left: "0px", top: "0px", height: `${Math.round(length)}px`, width: `${LINE}px` });
      titleEl.dataset.rotate = "-90";
      el.style.width = `${thickness}px`;
      el.style.height = `${Math.round(length)}px`;
    }
    setHidden(titleEl, !title);
    el.replaceChildren(...nodes, titleEl);
    return layout;
  };

  return {
    el,
    update,
    get thickness() {
      return thickness;
    },
  };
}

// ---- colour bar ---------------------------------------------------------------------------------------------

export interface ColorBar {
  readonly el: HTMLElement;
  /** Paint `lut` over [lo, hi] along `length` CSS px, with nice ticks and a title. null limits: no ticks. */
  update(lut: Lut, limits: readonly [number, number] | null, length: number, title?: string): void;
  /** The tick texts shown (tests, and the snapshot). */
  readonly ticks: string[];
}

/** A horizontal colour bar: the map as a strip, a bottom axis with nice ticks, the value's name below. */
export function createColorBar(fontFamily: () => string, cls = ""): ColorBar {
  const strip = h("canvas", { class: "fx-colorbar", attrs: { width: "256", height: "1", "aria-hidden": "true" } });
  const axis = createAxis("bottom", fontFamily, "fx-colorbar-axis");
  const el = h("div", { class: `fx-colorbar-box ${cls}`.trim(), children: [strip, axis.el] });
  let ticks: string[] = [];
  let painted: Lut | null = null;

  return {
    el,
    update(lut, limits, length, title = "") {
      const len = Math.max(16, Math.round(length));
      strip.style.width = `${len - 2}px`; // + its 1 px border on each side = length
      if (painted !== lut) {
        const ctx = strip.getContext("2d");
        if (ctx) {
          const img = ctx.createImageData(256, 1);
          const s = lutStride(lut);
          for (let i = 0; i < 256; i++) {
            img.data[4 * i] = lut[s * i];
            img.data[4 * i + 1] = lut[s * i + 1];
            img.data[4 * i + 2] = lut[s * i + 2];
            img.data[4 * i + 3] = s === 4 ? lut[s * i + 3] : 255;
          }
          ctx.putImageData(img, 0, 0);
          painted = lut;
        }
      }
      if (limits && limits[0] !== limits[1]) {
        const layout = axis.update({ kind: "linear", lo: limits[0], hi: limits[1] }, len, title);
        ticks = layout.ticks.map((t) => t.text);
      } else if (limits) {
        // One value: a single tick in the middle (matplotlib draws every finite value with entry 0).
        const layout = axis.update({ kind: "linear", lo: limits[0] - 1, hi: limits[0] + 1 }, len, title);
        ticks = layout.ticks.map((t) => t.text);
      } else {
        axis.update({ kind: "linear", lo: NaN, hi: NaN }, len, title);
        ticks = [];
      }
      el.style.width = `${len}px`;
    },
    get ticks() {
      return ticks;
    },
  };
}

/** Tick texts of a colour bar over [lo, hi] at `length` px: what createColorBar shows (pure, for tests). */
export function colorBarTicks(lo: number, hi: number, length: number, measure: (s: string) => number): string[] {
  return axisLayout({ kind: "linear", lo, hi }, length, { measure, lineHeight: LINE, orientation: "x" }).ticks.map((t) => t.text);
}

export { formatTicks };
