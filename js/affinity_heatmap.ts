// AffinityHeatmap view (docs/protocol.md, "AffinityHeatmap").
//
// Tiles of the display grid stream in as `tile` messages and are written into a Float32Array (NaN = not yet
// computed); one redraw per animation frame colours the rows that changed (all of them when the colour map or
// limits change). Hover shows a tooltip (and, for a downsampled grid, asks the kernel for the exact value of
// the top-left cell); click or drag sets `selection`.

import type { RenderProps } from "@anywidget/types";
import { type NdArray } from "./lib/codec";
import { createRpc, isExpectedRejection, onMessage, reportRpcFailure } from "./lib/rpc";
import {
  COLORMAP_NAMES,
  colorize,
  getColormap,
  isColormapName,
  isDiverging,
  type Lut,
} from "./lib/colormaps";
import {
  cellAt,
  cellAtClamped,
  cellSpan,
  formatValue,
  labelText,
  layout,
  makeGrid,
  rangeText,
  selectionCells,
  selectionFromDrag,
  type Cell,
  type Grid,
} from "./lib/grid";
import { readTheme, watchTheme, type Theme } from "./lib/theme";
import { BASE_CSS, createJobUi, h, setHidden, styleElement } from "./lib/ui";
import { finalizer } from "./lib/lifecycle";

export interface HeatmapTraits {
  shape: [number, number];
  display_shape: [number, number];
  block: [number, number];
  row_labels: string[];
  col_labels: string[];
  cmap: string;
  vmin: number | null;
  vmax: number | null;
  title: string;
  value_label: string;
  progress: number;
  status: string;
  error: string;
  selection: { rows?: number[]; cols?: number[] };
  [key: string]: unknown;
}

interface TileMessage {
  type: "tile";
  r0: number;
  c0: number;
  data: NdArray;
}

const MAX_SIDE = 640; // CSS px

const CSS = `${BASE_CSS}
.fx-heatmap { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-heatmap .fx-header { font-weight: 600; font-size: var(--jp-ui-font-size2, 15px); margin: 2px 0 4px; }
.fx-heatmap .fx-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin-bottom: 6px; }
.fx-heatmap .fx-toolbar label { display: inline-flex; align-items: center; gap: 4px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-heatmap .fx-vmin, .fx-heatmap .fx-vmax { width: 7em; }
.fx-heatmap .fx-toolbar input[aria-invalid="true"] { border-color: var(--jp-error-color1, #d32f2f); }
.fx-heatmap .fx-plot { position: relative; line-height: 0; }
.fx-heatmap .fx-heatmap-canvas, .fx-heatmap .fx-overlay, .fx-heatmap .fx-colorbar {
  box-sizing: content-box;
}
.fx-heatmap .fx-heatmap-canvas {
  display: block;
  border: 1px solid var(--jp-border-color2, #e0e0e0);
  cursor: crosshair;
  touch-action: none;
  image-rendering: pixelated;
}
.fx-heatmap .fx-overlay { position: absolute; left: 1px; top: 1px; pointer-events: none; }
.fx-heatmap .fx-tooltip {
  position: absolute;
  z-index: 10;
  pointer-events: none;
  line-height: 1.35;
  max-width: 360px;
  padding: 4px 8px;
  background: var(--jp-layout-color0, #fff);
  color: var(--jp-ui-font-color0, #000);
  border: 1px solid var(--jp-border-color1, #bdbdbd);
  border-radius: 3px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.25);
  white-space: pre-wrap;
  overflow-wrap: anywhere;
  font-variant-numeric: tabular-nums;
}
.fx-heatmap .fx-tt-value { font-weight: 600; }
.fx-heatmap .fx-tt-exact { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-heatmap .fx-colorbar-wrap { margin-top: 6px; }
.fx-heatmap .fx-colorbar { display: block; height: 10px; border: 1px solid var(--jp-border-color2, #e0e0e0); }
.fx-heatmap .fx-ticks { display: flex; justify-content: space-between; gap: 8px; font-variant-numeric: tabular-nums;
  color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); line-height: 1.4; }
`;

type Props = Pick<RenderProps<HeatmapTraits>, "model" | "el"> & { signal?: AbortSignal };

function render({ model, el, signal }: Props): () => void {
  const rpc = createRpc(model);
  const disposers: Array<() => void> = [];
  let disposed = false;

  // ---- DOM -------------------------------------------------------------------------------------------
  const root = h("div", { class: "fx-root fx-heatmap" });
  root.dataset.status = "";
  root.dataset.tiles = "0";
  root.dataset.draws = "0";
  const title = h("div", { class: "fx-header" });

  const cmapSelect = h("select", { class: "fx-cmap", attrs: { "aria-label": "colormap" } });
  for (const name of COLORMAP_NAMES) cmapSelect.appendChild(h("option", { text: name, attrs: { value: name } }));
  const numberInput = (cls: string, label: string) =>
    h("input", {
      class: cls,
      attrs: { type: "number", step: "any", placeholder: "auto", "aria-label": label, inputmode: "decimal" },
    });
  const vminInput = numberInput("fx-vmin", "vmin");
  const vmaxInput = numberInput("fx-vmax", "vmax");
  const toolbar = h("div", {
    class: "fx-toolbar",
    children: [
      h("label", { children: [document.createTextNode("cmap"), cmapSelect] }),
      h("label", { children: [document.createTextNode("vmin"), vminInput] }),
      h("label", { children: [document.createTextNode("vmax"), vmaxInput] }),
    ],
  });

  const canvas = h("canvas", { class: "fx-heatmap-canvas", attrs: { role: "img", "aria-label": "heatmap" } });
  const overlay = h("canvas", { class: "fx-overlay", attrs: { "aria-hidden": "true" } });
  const ttRow = h("div", { class: "fx-tt-row" });
  const ttCol = h("div", { class: "fx-tt-col" });
  const ttValue = h("div", { class: "fx-tt-value" });
  const ttExact = h("div", { class: "fx-tt-exact" });
  const tooltip = h("div", { class: "fx-tooltip", children: [ttRow, ttCol, ttValue, ttExact] });
  setHidden(tooltip, true);
  const plot = h("div", { class: "fx-plot", children: [canvas, overlay, tooltip] });

  const colorbar = h("canvas", { class: "fx-colorbar", attrs: { width: "256", height: "1", "aria-hidden": "true" } });
  const tickMin = h("span", { class: "fx-tick fx-tick-min" });
  const tickMid = h("span", { class: "fx-tick fx-tick-mid" });
  const tickMax = h("span", { class: "fx-tick fx-tick-max" });
  const ticks = h("div", { class: "fx-ticks", children: [tickMin, tickMid, tickMax] });
  const colorbarWrap = h("div", { class: "fx-colorbar-wrap", children: [colorbar, ticks] });

  const job = createJobUi(() => {
    job.cancel.disabled = true;
    rpc.request("cancel").catch((err) => warnUnlessExpected("cancel", err));
  });
  disposers.push(() => job.destroy());

  root.append(styleElement(CSS), title, toolbar, plot, colorbarWrap, job.row, job.errorBox);
  el.appendChild(root);
  disposers.push(() => root.remove());

  let theme: Theme = readTheme(root);
  disposers.push(
    watchTheme(root, (t) => {
      theme = t;
      scheduleDraw();
      drawOverlay();
    }),
  );

  // ---- model helpers -----------------------------------------------------------------------------------
  const get = <K extends keyof HeatmapTraits>(k: K): HeatmapTraits[K] => model.get(k);
  const listen = (event: string, cb: () => void) => {
    model.on(event, cb);
    disposers.push(() => model.off(event, cb));
  };
  const dom = <K extends keyof HTMLElementEventMap>(
    target: HTMLElement,
    type: K,
    cb: (ev: HTMLElementEventMap[K]) => void,
  ) => {
    target.addEventListener(type, cb);
    disposers.push(() => target.removeEventListener(type, cb));
  };

  // ---- data ------------------------------------------------------------------------------------------
  let grid: Grid = makeGrid(get("display_shape"), get("shape"), get("block"));
  let values = new Float32Array(0);
  let autoRange: [number, number] | null = null;
  // Rows of the display grid changed since the last draw. While the colour map and limits stay the same
  // only those rows are coloured again: a 4096 x 4096 grid streaming in would otherwise be recoloured whole
  // on every frame.
  let dirtyLo = Infinity;
  let dirtyHi = -1;
  let paintedKey = "";
  let tilesApplied = 0;
  let draws = 0;
  const offscreen = document.createElement("canvas");
  const octx = offscreen.getContext("2d");
  let image: ImageData | null = null;
  let cssW = 0;
  let cssH = 0;

  const allocate = () => {
    grid = makeGrid(get("display_shape"), get("shape"), get("block"));
    values = new Float32Array(grid.h * grid.w).fill(NaN);
    autoRange = null;
    paintedKey = "";
    offscreen.width = Math.max(1, grid.w);
    offscreen.height = Math.max(1, grid.h);
    image = octx && grid.h > 0 && grid.w > 0 ? octx.createImageData(grid.w, grid.h) : null;
    relayout();
    scheduleDraw();
  };

  const applyTile = (msg: TileMessage) => {
    const { r0, c0, data } = msg;
    if (!Number.isInteger(r0) || !Number.isInteger(c0) || r0 < 0 || c0 < 0 || !data || data.shape?.length !== 2) {
      console.warn("fxwidgets: ignored a malformed tile message", { r0, c0, shape: data?.shape });
      return;
    }
    const [th, tw] = data.shape;
    const src = data.data;
    const { h: gh, w: gw } = grid;
    const n = Math.min(tw, gw - c0);
    let lo = autoRange ? autoRange[0] : Infinity;
    let hi = autoRange ? autoRange[1] : -Infinity;
    for (let k = 0; k < th && r0 + k < gh && n > 0; k++) {
      const s = k * tw;
      const d = (r0 + k) * gw + c0;
      for (let t = 0; t < n; t++) {
        const v = src[s + t];
        if (v !== v) continue; // NaN = not computed: never overwrite a value with it
        values[d + t] = v;
        if (v < lo && v > -Infinity) lo = v;
        if (v > hi && v < Infinity) hi = v;
      }
    }
    if (lo <= hi) autoRange = [lo, hi];
    dirtyLo = Math.min(dirtyLo, r0);
    dirtyHi = Math.max(dirtyHi, Math.min(gh, r0 + th));
    tilesApplied += 1;
    root.dataset.tiles = String(tilesApplied);
    scheduleDraw();
  };

  const requestSnapshot = () => {
    rpc.request("snapshot", {}, { channel: "snapshot" }).catch((err) => warnUnlessExpected("snapshot", err));
  };

  disposers.push(onMessage<TileMessage>(model, "tile", applyTile));
  disposers.push(
    onMessage<{ type: "error"; error?: unknown }>(model, "error", (msg) =>
      console.warn(`fxwidgets: the kernel reported: ${String(msg.error)}`),
    ),
  );

  // ---- layout ----------------------------------------------------------------------------------------
  const dpr = () => (typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1);

  function relayout(): void {
    const avail = (el.clientWidth || root.clientWidth || MAX_SIDE) - 2; // minus the canvas border
    const L = layout(grid.h, grid.w, avail, MAX_SIDE);
    const ratio = dpr();
    const bw = Math.max(1, Math.round(L.cssW * ratio));
    const bh = Math.max(1, Math.round(L.cssH * ratio));
    if (L.cssW === cssW && L.cssH === cssH && canvas.width === bw && canvas.height === bh) return;
    cssW = L.cssW;
    cssH = L.cssH;
    for (const c of [canvas, overlay]) {
      c.style.width = `${cssW}px`;
      c.style.height = `${cssH}px`;
      c.width = bw;
      c.height = bh;
    }
    colorbar.style.width = `${cssW}px`; // + its 1px border = the heatmap canvas with its border
    ticks.style.width = `${cssW + 2}px`;
    scheduleDraw();
    drawOverlay();
  }

  if (typeof ResizeObserver !== "undefined") {
    let lastWidth = -1;
    const ro = new ResizeObserver((entries) => {
      const w = Math.round(entries[entries.length - 1].contentRect.width);
      if (w !== lastWidth) {
        lastWidth = w;
        relayout();
      }
    });
    ro.observe(el);
    disposers.push(() => ro.disconnect());
  }

  // ---- drawing ---------------------------------------------------------------------------------------
  const raf: (cb: () => void) => number =
    typeof requestAnimationFrame === "function" ? (cb) => requestAnimationFrame(cb) : (cb) => setTimeout(cb, 16) as unknown as number;
  const caf: (id: number) => void =
    typeof cancelAnimationFrame === "function" ? (id) => cancelAnimationFrame(id) : (id) => clearTimeout(id);
  let drawId: number | null = null;
  let hoverId: number | null = null;
  disposers.push(() => {
    if (drawId !== null) caf(drawId);
    if (hoverId !== null) caf(hoverId);
  });

  let warnedCmap = "";
  const currentLut = (): Lut => {
    const name = get("cmap");
    try {
      return getColormap(name);
    } catch (err) {
      if (warnedCmap !== name) {
        warnedCmap = name;
        console.warn(`fxwidgets: ${(err as Error).message}; drawing with viridis`);
      }
      return getColormap("viridis");
    }
  };

  /** The colour limits in use: the traits, or the finite range of the data received so far. */
  const limits = (): [number, number] | null => {
    const vmin = get("vmin");
    const vmax = get("vmax");
    const auto = autoRange; // kept up to date by applyTile: finiteRange of the values received so far
    const lo = typeof vmin === "number" && Number.isFinite(vmin) ? vmin : auto?.[0];
    const hi = typeof vmax === "number" && Number.isFinite(vmax) ? vmax : auto?.[1];
    if (lo === undefined && hi === undefined) return null;
    return [lo ?? (hi as number), hi ?? (lo as number)];
  };

  function scheduleDraw(): void {
    if (drawId === null && !disposed) drawId = raf(draw);
  }

  function draw(): void {
    drawId = null;
    if (disposed) return;
    const lut = currentLut();
    const lim = limits();
    const ctx = canvas.getContext("2d");
    if (image && octx && ctx) {
      const [vmin, vmax] = lim ?? [0, 0];
      const key = `${get("cmap")}|${vmin}|${vmax}`;
      if (key !== paintedKey) {
        colorize(values, lut, vmin, vmax, image.data);
        octx.putImageData(image, 0, 0);
        paintedKey = key;
      } else if (dirtyHi > dirtyLo) {
        const w = grid.w;
        colorize(values.subarray(dirtyLo * w, dirtyHi * w), lut, vmin, vmax, image.data.subarray(dirtyLo * w * 4, dirtyHi * w * 4));
        octx.putImageData(image, 0, 0, 0, dirtyLo, w, dirtyHi - dirtyLo);
      }
      dirtyLo = Infinity;
      dirtyHi = -1;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = theme.layout0;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      // Enlarging: crisp cells. Shrinking (more cells than device pixels): average, so that no cell is
      // silently dropped by nearest-neighbour sampling.
      const shrinking = canvas.width < grid.w || canvas.height < grid.h;
      ctx.imageSmoothingEnabled = shrinking;
      if (shrinking) ctx.imageSmoothingQuality = "high";
      ctx.drawImage(offscreen, 0, 0, grid.w, grid.h, 0, 0, canvas.width, canvas.height);
    } else if (ctx) {
      ctx.fillStyle = theme.layout0;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
    }
    drawColorbar(lut, lim);
    if (hoverCell) updateTooltipValue();
    draws += 1;
    root.dataset.draws = String(draws);
  }

  function drawColorbar(lut: Lut, lim: [number, number] | null): void {
    const ctx = colorbar.getContext("2d");
    if (ctx) {
      const img = ctx.createImageData(256, 1);
      for (let i = 0; i < 256; i++) {
        img.data[4 * i] = lut[3 * i];
        img.data[4 * i + 1] = lut[3 * i + 1];
        img.data[4 * i + 2] = lut[3 * i + 2];
        img.data[4 * i + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    }
    tickMin.textContent = lim ? formatValue(lim[0]) : "–";
    tickMax.textContent = lim ? formatValue(lim[1]) : "–";
    tickMid.textContent = lim && isDiverging(get("cmap")) ? formatValue((lim[0] + lim[1]) / 2) : "";
    const auto = get("vmin") == null || get("vmax") == null;
    ticks.title = auto ? "vmin/vmax not set: the range of the data received so far" : "";
  }

  let dragStart: Cell | null = null;
  let dragEnd: Cell | null = null;

  function drawOverlay(): void {
    const ctx = overlay.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (grid.h === 0 || grid.w === 0) return;
    const sx = overlay.width / grid.w;
    const sy = overlay.height / grid.h;
    const rect = dragStart && dragEnd
      ? {
          i0: Math.min(dragStart.i, dragEnd.i),
          i1: Math.max(dragStart.i, dragEnd.i),
          j0: Math.min(dragStart.j, dragEnd.j),
          j1: Math.max(dragStart.j, dragEnd.j),
        }
      : selectionCells(grid, get("selection"));
    const ratio = dpr();
    if (hoverCell && !dragStart && sx >= 4 * ratio && sy >= 4 * ratio) {
      ctx.lineWidth = ratio;
      ctx.strokeStyle = theme.light ? "rgba(0,0,0,0.45)" : "rgba(255,255,255,0.6)";
      ctx.strokeRect(hoverCell.j * sx + ratio / 2, hoverCell.i * sy + ratio / 2, sx - ratio, sy - ratio);
    }
    if (rect) {
      const x = rect.j0 * sx;
      const y = rect.i0 * sy;
      const w = (rect.j1 - rect.j0 + 1) * sx;
      const hh = (rect.i1 - rect.i0 + 1) * sy;
      // a dark and a light line, so the outline shows on any colour
      ctx.lineWidth = 3 * ratio;
      ctx.strokeStyle = theme.light ? "rgba(255,255,255,0.9)" : "rgba(0,0,0,0.9)";
      ctx.strokeRect(x + 1.5 * ratio, y + 1.5 * ratio, Math.max(0, w - 3 * ratio), Math.max(0, hh - 3 * ratio));
      ctx.lineWidth = 1.5 * ratio;
      ctx.strokeStyle = theme.brand;
      ctx.strokeRect(x + 1.5 * ratio, y + 1.5 * ratio, Math.max(0, w - 3 * ratio), Math.max(0, hh - 3 * ratio));
    }
  }

  // ---- hover -----------------------------------------------------------------------------------------
  let pointer: { x: number; y: number } | null = null;
  let hoverCell: Cell | null = null;
  let hoverKey = "";

  const toCss = (ev: PointerEvent): { x: number; y: number } => {
    const r = canvas.getBoundingClientRect();
    const bl = canvas.clientLeft || 0;
    const bt = canvas.clientTop || 0;
    const scaleX = r.width > 0 ? (cssW + 2 * bl) / r.width : 1;
    const scaleY = r.height > 0 ? (cssH + 2 * bt) / r.height : 1;
    return { x: (ev.clientX - r.left) * scaleX - bl, y: (ev.clientY - r.top) * scaleY - bt };
  };

  const valueLabel = () => get("value_label") || "value";
  const blocked = () => grid.fr !== 1 || grid.fc !== 1;

  function updateTooltipValue(): void {
    if (!hoverCell) return;
    const v = values[hoverCell.i * grid.w + hoverCell.j];
    const what = blocked() ? `${valueLabel()} (block mean)` : valueLabel();
    ttValue.textContent = `${what}: ${Number.isNaN(v) ? "not computed yet" : formatValue(v)}`;
  }

  function showTooltip(cell: Cell): void {
    const s = cellSpan(grid, cell);
    const rl = labelText(get("row_labels"), s.r0, s.r1);
    const cl = labelText(get("col_labels"), s.c0, s.c1);
    ttRow.textContent = rangeText("row", s.r0, s.r1) + (rl ? `: ${rl}` : "");
    ttCol.textContent = rangeText("col", s.c0, s.c1) + (cl ? `: ${cl}` : "");
    updateTooltipValue();
    if (blocked()) {
      const key = `${s.r0},${s.c0}`;
      ttExact.textContent = `${valueLabel()} at (${s.r0}, ${s.c0}): …`;
      setHidden(ttExact, false);
      rpc
        .request<{ row: number; col: number; value: number | null; nonfinite?: string }>(
          "cell", { row: s.r0, col: s.c0 }, { channel: "hover" })
        .then(({ result }) => {
          if (disposed || hoverKey !== key) return;
          const v = result?.value;
          const text = typeof v === "number" ? formatValue(v) : result?.nonfinite ?? "not computed yet";
          ttExact.textContent = `${valueLabel()} at (${s.r0}, ${s.c0}): ${text}`;
        })
        .catch((err) => {
          if (isExpectedRejection(err)) return;
          if (!disposed && hoverKey === key) ttExact.textContent = `${valueLabel()} at (${s.r0}, ${s.c0}): unavailable`;
          warnUnlessExpected("cell", err);
        });
    } else {
      ttExact.textContent = "";
      setHidden(ttExact, true);
    }
    setHidden(tooltip, false);
  }

  function placeTooltip(x: number, y: number): void {
    const pad = 14;
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    let left = x + pad;
    let top = y + pad;
    if (left + tw > cssW && x - pad - tw >= 0) left = x - pad - tw;
    if (top + th > cssH && y - pad - th >= 0) top = y - pad - th;
    tooltip.style.left = `${Math.round(left)}px`;
    tooltip.style.top = `${Math.round(top)}px`;
  }

  function hideTooltip(): void {
    hoverCell = null;
    hoverKey = "";
    setHidden(tooltip, true);
  }

  function onHoverFrame(): void {
    hoverId = null;
    if (disposed) return;
    if (dragStart && pointer) {
      const c = cellAtClamped(grid, pointer.x, pointer.y, cssW, cssH);
      if (c && (!dragEnd || c.i !== dragEnd.i || c.j !== dragEnd.j)) {
        dragEnd = c;
        drawOverlay();
      }
    }
    const cell = pointer ? cellAt(grid, pointer.x, pointer.y, cssW, cssH) : null;
    if (!cell) {
      if (hoverCell) {
        hideTooltip();
        drawOverlay();
      }
      return;
    }
    const key = (() => {
      const s = cellSpan(grid, cell);
      return `${s.r0},${s.c0}`;
    })();
    if (key !== hoverKey) {
      hoverCell = cell;
      hoverKey = key;
      showTooltip(cell);
      drawOverlay();
    }
    if (pointer) placeTooltip(pointer.x, pointer.y);
  }

  const scheduleHover = () => {
    if (hoverId === null && !disposed) hoverId = raf(onHoverFrame);
  };

  dom(canvas, "pointermove", (ev) => {
    pointer = toCss(ev);
    scheduleHover();
  });
  dom(canvas, "pointerleave", () => {
    pointer = null;
    scheduleHover();
  });

  // ---- selection -------------------------------------------------------------------------------------
  dom(canvas, "pointerdown", (ev) => {
    if (ev.button !== 0 || !ev.isPrimary) return;
    const p = toCss(ev);
    const c = cellAt(grid, p.x, p.y, cssW, cssH);
    if (!c) return;
    ev.preventDefault();
    dragStart = c;
    dragEnd = c;
    try {
      canvas.setPointerCapture(ev.pointerId);
    } catch {
      // synthetic events have no active pointer to capture
    }
    drawOverlay();
  });
  const finishDrag = (ev: PointerEvent, commit: boolean) => {
    if (!dragStart) return;
    const p = toCss(ev);
    const end = cellAtClamped(grid, p.x, p.y, cssW, cssH) ?? dragEnd ?? dragStart;
    const start = dragStart;
    dragStart = null;
    dragEnd = null;
    try {
      if (canvas.hasPointerCapture?.(ev.pointerId)) canvas.releasePointerCapture(ev.pointerId);
    } catch {
      // ignore
    }
    if (commit) {
      model.set("selection", selectionFromDrag(grid, start, end));
      model.save_changes();
    }
    drawOverlay();
  };
  dom(canvas, "pointerup", (ev) => finishDrag(ev, true));
  dom(canvas, "pointercancel", (ev) => finishDrag(ev, false));

  // ---- toolbar ---------------------------------------------------------------------------------------
  const syncCmap = () => {
    const name = get("cmap");
    if (!isColormapName(name) && ![...cmapSelect.options].some((o) => o.value === name) && typeof name === "string") {
      cmapSelect.appendChild(h("option", { text: `${name} (unknown)`, attrs: { value: name } }));
    }
    cmapSelect.value = name;
  };
  const syncLimit = (input: HTMLInputElement, v: number | null) => {
    input.value = typeof v === "number" && Number.isFinite(v) ? String(v) : "";
    input.removeAttribute("aria-invalid");
  };
  const checkOrder = () => {
    const a = get("vmin");
    const b = get("vmax");
    const bad = typeof a === "number" && typeof b === "number" && a > b;
    for (const input of [vminInput, vmaxInput]) {
      if (bad) {
        input.setAttribute("aria-invalid", "true");
        input.title = "vmin is greater than vmax: the colormap is drawn reversed";
      } else {
        input.removeAttribute("aria-invalid");
        input.title = "empty = auto (the data's finite min/max)";
      }
    }
  };
  dom(cmapSelect, "change", () => {
    model.set("cmap", cmapSelect.value);
    model.save_changes();
    scheduleDraw();
  });
  const bindLimit = (input: HTMLInputElement, key: "vmin" | "vmax") => {
    dom(input, "change", () => {
      const text = input.value.trim();
      if (text === "") {
        model.set(key, null);
      } else {
        const v = Number(text);
        if (!Number.isFinite(v)) {
          input.setAttribute("aria-invalid", "true");
          return;
        }
        model.set(key, v);
      }
      model.save_changes();
      checkOrder();
      scheduleDraw();
    });
  };
  bindLimit(vminInput, "vmin");
  bindLimit(vmaxInput, "vmax");

  // ---- traits ----------------------------------------------------------------------------------------
  const syncTitle = () => {
    const t = get("title");
    title.textContent = t ?? "";
    setHidden(title, !t);
  };
  const syncJob = () => {
    const status = get("status") ?? "";
    root.dataset.status = status;
    job.update({ status, progress: Number(get("progress") ?? 0), error: get("error") ?? "" });
  };
  let lastStatus = get("status");

  listen("change:display_shape", () => {
    allocate();
    requestSnapshot();
  });
  const regrid = () => {
    const ds = get("display_shape");
    const g = makeGrid(ds, get("shape"), get("block"));
    if (g.h !== grid.h || g.w !== grid.w) {
      allocate();
      requestSnapshot();
    } else {
      grid = g;
    }
    if (hoverCell) hideTooltip();
    drawOverlay();
  };
  listen("change:shape", regrid);
  listen("change:block", regrid);
  listen("change:cmap", () => {
    syncCmap();
    scheduleDraw();
  });
  listen("change:vmin", () => {
    syncLimit(vminInput, get("vmin"));
    checkOrder();
    scheduleDraw();
  });
  listen("change:vmax", () => {
    syncLimit(vmaxInput, get("vmax"));
    checkOrder();
    scheduleDraw();
  });
  listen("change:title", syncTitle);
  const refreshTooltip = () => {
    if (hoverCell) showTooltip(hoverCell);
  };
  listen("change:value_label", refreshTooltip);
  listen("change:row_labels", refreshTooltip);
  listen("change:col_labels", refreshTooltip);
  listen("change:selection", drawOverlay);
  listen("change:progress", syncJob);
  listen("change:error", syncJob);
  listen("change:status", () => {
    const status = get("status");
    syncJob();
    if (status === "running" && lastStatus !== "running") {
      // A new job: drop the old values and fetch whatever the new one has computed so far.
      values.fill(NaN);
      autoRange = null;
      paintedKey = "";
      scheduleDraw();
      requestSnapshot();
    }
    lastStatus = status;
  });

  syncTitle();
  syncCmap();
  syncLimit(vminInput, get("vmin"));
  syncLimit(vmaxInput, get("vmax"));
  checkOrder();
  syncJob();
  allocate();
  requestSnapshot();

  // ---- cleanup ---------------------------------------------------------------------------------------
  function warnUnlessExpected(method: string, err: unknown): void {
    if (!disposed) reportRpcFailure(method, err);
  }

  disposers.unshift(() => rpc.dispose()); // last: pending requests are rejected after the listeners are gone
  return finalizer(disposers, signal, () => {
    disposed = true;
  });
}

export default { render };
