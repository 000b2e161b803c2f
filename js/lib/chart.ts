// Axes drawn on a canvas, for line charts (FeatureRanking's probe curve): the same tick layout as the DOM axes
// (scale.ts), the same font and colours, so a chart and a heatmap read alike. Text drawn with fillText is text,
// never HTML.

import { axisLayout, type AxisLayout, type AxisSpec } from "./scale";
import { AXIS_FONT_PX, measureText } from "./axis";
import type { Theme } from "./theme";

export interface PlotBox {
  /** Plot area inside the canvas, CSS px. */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A canvas sized to `w` x `h` CSS px at the device ratio, cleared to the theme's background; its context. */
export function setupCanvas(c: HTMLCanvasElement, w: number, h: number, theme: Theme): CanvasRenderingContext2D | null {
  const dpr = typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1;
  const bw = Math.max(1, Math.round(w * dpr));
  const bh = Math.max(1, Math.round(h * dpr));
  if (c.width !== bw) c.width = bw;
  if (c.height !== bh) c.height = bh;
  c.style.width = `${w}px`;
  c.style.height = `${h}px`;
  const ctx = c.getContext("2d");
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = theme.layout0;
  ctx.fillRect(0, 0, w, h);
  ctx.font = `${AXIS_FONT_PX}px ${theme.fontFamily}`;
  return ctx;
}

/**
 * The plot area of a `w` x `h` chart whose left margin fits the y labels of `ySpec` and a rotated y title, and
 * whose bottom margin fits the x labels and the x title.
 */
export function chartBox(w: number, h: number, ySpec: AxisSpec, fontFamily: string, titles = { x: true, y: true }): PlotBox {
  const top = 10;
  const bottom = 4 + AXIS_FONT_PX + 6 + (titles.x ? AXIS_FONT_PX + 6 : 0);
  const height = Math.max(20, h - top - bottom);
  const yl = axisLayout(ySpec, height, { measure: (s) => measureText(s, fontFamily), lineHeight: 14, orientation: "y" });
  const widest = Math.max(0, ...yl.ticks.map((t) => measureText(t.text, fontFamily)));
  const left = 4 + widest + 6 + (titles.y ? AXIS_FONT_PX + 8 : 0);
  return { left, top, width: Math.max(20, w - left - 10), height };
}

/** Frame, ticks, tick labels and titles of a chart; returns both axis layouts (positions along each axis). */
export function drawChartAxes(
  ctx: CanvasRenderingContext2D,
  box: PlotBox,
  xSpec: AxisSpec,
  ySpec: AxisSpec,
  theme: Theme,
  xTitle = "",
  yTitle = "",
): { x: AxisLayout; y: AxisLayout } {
  const measure = (s: string) => measureText(s, theme.fontFamily);
  const x = axisLayout(xSpec, box.width, { measure, lineHeight: 14, orientation: "x" });
  const y = axisLayout(ySpec, box.height, { measure, lineHeight: 14, orientation: "y" });
  ctx.save();
  ctx.font = `${AXIS_FONT_PX}px ${theme.fontFamily}`;
  // light grid at the y ticks, then the frame
  ctx.strokeStyle = theme.border2;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const t of y.ticks) {
    const yy = Math.round(box.top + t.pos) + 0.5;
    ctx.moveTo(box.left, yy);
    ctx.lineTo(box.left + box.width, yy);
  }
  ctx.stroke();
  ctx.strokeStyle = theme.border1;
  ctx.strokeRect(box.left + 0.5, box.top + 0.5, box.width, box.height);
  ctx.fillStyle = theme.font2;
  ctx.beginPath();
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of x.ticks) {
    const xx = Math.round(box.left + t.pos) + 0.5;
    ctx.moveTo(xx, box.top + box.height);
    ctx.lineTo(xx, box.top + box.height + 4);
    const w = measure(t.text);
    const cx = Math.min(Math.max(box.left + t.pos, box.left + w / 2), box.left + box.width - w / 2);
    ctx.fillText(t.text, cx, box.top + box.height + 6);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of y.ticks) {
    const yy = Math.round(box.top + t.pos) + 0.5;
    ctx.moveTo(box.left - 4, yy);
    ctx.lineTo(box.left, yy);
    ctx.fillText(t.text, box.left - 6, Math.min(Math.max(box.top + t.pos, box.top + 6), box.top + box.height - 6));
  }
  ctx.strokeStyle = theme.font2;
  ctx.stroke();
  ctx.fillStyle = theme.font1;
  if (xTitle) {
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(xTitle, box.left + box.width / 2, box.top + box.height + 6 + AXIS_FONT_PX + 6 + AXIS_FONT_PX + 2);
  }
  if (yTitle) {
    ctx.translate(8, box.top + box.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(yTitle, 0, 0);
  }
  ctx.restore();
  return { x, y };
}
