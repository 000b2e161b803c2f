// Scatter view (docs/protocol.md, "Scatter"): WebGL points drawn by regl-scatterplot (bundled from npm).
//
// Coordinates arrive as float32 `points` messages (rows start..start+k, in place: a streaming embedding fills
// and moves them), class codes and scores as int32 / float32 columns. The view keeps them as typed arrays,
// colours rows by class (palette from Python, a legend whose items hide/show a class) or by score (any colour
// map, matplotlib's Normalize), and draws through one WebGL context shared by every scatter of the page. Hover
// shows the row at once and asks the kernel for its values and thumbnail; lasso, box or click selections go to
// Python as int32 row indices (`selection`) and, when the view is linked, to the other views of the page.

import type { NdArray } from "./lib/codec";
import createScatterplot from "regl-scatterplot";
import { createAxis, createColorBar } from "./lib/axis";
import { colorLimits, finiteRange, resolveLut, type Lut } from "./lib/colormaps";
import { fmt } from "./lib/format";
import { acquireRenderer, type RendererLease } from "./lib/gl";
import { joinLink } from "./lib/link";
import {
  classCounts,
  colorChannel,
  colorTable,
  finiteBounds,
  fitCamera,
  glPoints,
  indicesFromBytes,
  indicesToBytes,
  linearScale,
  normalization,
  sameRows,
  sizeBins,
  toggleClass,
  visibleRows,
  type Bounds,
  type ColorMode,
  type Normalization,
} from "./lib/points";
import { createTooltip, type TipLine } from "./lib/tooltip";
import { colorControls, labelled, selectOf, setOptions, toolbar } from "./lib/toolbar";
import { h, pixelCanvas, setHidden } from "./lib/ui";
import { defineView, type View } from "./lib/view";
import { sortedUnique } from "./lib/link";

export interface ScatterTraits {
  n_points: number;
  bounds: number[];
  aspect: string;
  classes: string[];
  palette: string[];
  hidden_classes: number[];
  color_by: string;
  has_scores: boolean;
  label_name: string;
  score_name: string;
  cmap: string;
  vmin: number | null;
  vmax: number | null;
  point_size: number;
  opacity: number;
  x_label: string;
  y_label: string;
  title: string;
  selection: unknown;
  has_images: boolean;
  value_names: string[];
  progress: number;
  status: string;
  error: string;
  link_id?: string;
  link_map?: unknown;
  [key: string]: unknown;
}

interface PointsMessage {
  type: "points";
  start: number;
  xy: NdArray;
}
interface ColumnMessage {
  type: "codes" | "scores" | "sizes";
  start: number;
  values: NdArray;
}
interface RowReply {
  index: number;
  label?: string;
  score?: number | null;
  x?: number | null;
  y?: number | null;
  values?: Record<string, number | string | null>;
  image?: NdArray;
}

/** Most legend entries listed; more classes are still coloured (and can be hidden from Python). */
export const MAX_LEGEND = 60;

const CSS = `
.fx-scatter { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-scatter .fx-scatter-frame { display: grid; grid-template-columns: max-content max-content; justify-content: start;
  align-items: start; max-width: 100%; }
.fx-scatter .fx-scatter-plot { position: relative; line-height: 0; border: 1px solid var(--jp-border-color2, #e0e0e0);
  background: var(--jp-layout-color0, #fff); }
.fx-scatter canvas.fx-scatter-canvas { display: block; touch-action: none; }
.fx-scatter .fx-scatter-plot[data-mode="lasso"] canvas, .fx-scatter .fx-scatter-plot[data-mode="box"] canvas { cursor: crosshair; }
.fx-scatter .fx-legend { display: flex; flex-wrap: wrap; gap: 2px 10px; margin: 0 0 6px; max-width: 100%; }
.fx-scatter .fx-legend-title { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-scatter .fx-legend-item { display: inline-flex; align-items: center; gap: 4px; padding: 0 2px; cursor: pointer;
  max-width: 16em; user-select: none; border-radius: 2px; }
.fx-scatter .fx-legend-item:hover, .fx-scatter .fx-legend-item:focus-visible { background: var(--jp-layout-color2, #eee); }
.fx-scatter .fx-legend-item .fx-swatch { flex: none; width: 10px; height: 10px; border-radius: 50%; }
.fx-scatter .fx-legend-item .fx-legend-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fx-scatter .fx-legend-item .fx-legend-count { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); font-variant-numeric: tabular-nums; }
.fx-scatter .fx-legend-item.fx-off { opacity: 0.4; text-decoration: line-through; }
.fx-scatter .fx-modes { display: inline-flex; gap: 0; }
.fx-scatter .fx-modes button[aria-pressed="true"] { background: var(--jp-brand-color1, #1976d2); color: #fff;
  border-color: var(--jp-brand-color1, #1976d2); }
.fx-scatter input[type="range"] { width: 6em; }
`;

/** Point size and opacity that suit n points when Python did not choose (it always does). */
function autoStyle(n: number): { size: number; opacity: number } {
  return {
    size: Math.max(1.5, Math.min(8, 24 / Math.pow(Math.max(n, 1), 0.25))),
    opacity: n <= 1000 ? 1 : Math.max(0.15, Math.pow(1000 / n, 0.3)),
  };
}

function setup(view: View<ScatterTraits>): void {
  const { root } = view;
  const t0 = performance.now();
  for (const [k, v] of Object.entries({ ready: "false", draws: 0, points: 0, selected: 0, hidden: "", mode: "pan", colorBy: "" })) {
    view.data(k, v);
  }

  // ---- data -------------------------------------------------------------------------------------------------
  let n = 0;
  let xy = new Float32Array(0);
  let codes: Int32Array | null = null;
  let scores: Float32Array | null = null;
  let sizes: Float32Array | null = null;
  let received = 0; // points messages applied
  let scoreRange: [number, number] | null = null;

  function allocate(): void {
    const next = Math.max(0, Math.floor(Number(view.get("n_points")) || 0));
    if (next === n && xy.length === 2 * n) return;
    n = next;
    xy = new Float32Array(2 * n).fill(NaN);
    if (codes && codes.length !== n) codes = null;
    if (scores && scores.length !== n) scores = null;
    if (sizes && sizes.length !== n) sizes = null;
    pts = null;
    positionsDirty = true;
  }

  // ---- DOM --------------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const modeButtons = (["pan", "lasso", "box"] as const).map((m) =>
    h("button", {
      class: `fx-mode fx-mode-${m}`,
      text: m === "pan" ? "pan / zoom" : m,
      attrs: {
        type: "button",
        "data-mode": m,
        "aria-pressed": m === "pan" ? "true" : "false",
        title:
          m === "pan"
            ? "drag to pan, wheel to zoom (shift-drag draws a lasso)"
            : m === "lasso"
              ? "drag a free-form lasso around points"
              : "drag a rectangle around points",
      },
    }),
  );
  const modes = h("span", { class: "fx-modes", children: modeButtons });
  const colorBy = selectOf("fx-color-by", "colour by", []);
  const colorByLabel = labelled("colour by", colorBy);
  const cmapControls = colorControls(view, () => recolor(), { center: false });
  const sizeInput = h("input", { class: "fx-point-size", attrs: { type: "range", min: "0.5", max: "20", step: "0.5", "aria-label": "point size" } });
  const opacityInput = h("input", { class: "fx-opacity", attrs: { type: "range", min: "0.05", max: "1", step: "0.05", "aria-label": "opacity" } });
  const resetButton = h("button", { class: "fx-reset-view", text: "reset view", attrs: { type: "button", title: "show every point" } });
  const clearButton = h("button", { class: "fx-clear-selection", text: "clear selection", attrs: { type: "button" } });
  const bar = toolbar(modes, colorByLabel, ...cmapControls.items, labelled("size", sizeInput), labelled("opacity", opacityInput), resetButton, clearButton);
  const legend = h("div", { class: "fx-legend", attrs: { role: "group", "aria-label": "classes" } });
  const canvas = h("canvas", { class: "fx-scatter-canvas", attrs: { role: "img", "aria-label": "scatter plot" } });
  const plot = h("div", { class: "fx-scatter-plot", attrs: { "data-mode": "pan" }, children: [canvas] });
  const left = createAxis("left", () => view.theme.fontFamily);
  const bottom = createAxis("bottom", () => view.theme.fontFamily);
  const colorbar = createColorBar(() => view.theme.fontFamily);
  const frame = h("div", { class: "fx-scatter-frame", children: [left.el, plot, h("div"), bottom.el, h("div"), colorbar.el] });
  const info = h("div", { class: "fx-info" });
  const tip = createTooltip(root);
  const job = view.jobUi();
  root.append(title, bar, legend, frame, info, job.row, job.errorBox);

  // ---- the WebGL plot ---------------------------------------------------------------------------------------
  let lease: RendererLease;
  let sp: ReturnType<typeof createScatterplot>;
  try {
    lease = acquireRenderer(`scatter-${Math.random().toString(36).slice(2)}`);
    sp = createScatterplot({
      renderer: lease.renderer,
      canvas,
      width: 300,
      height: 200,
      pointSize: 3,
      opacity: 1,
      colorBy: "valueA",
      pointColor: [[0.12, 0.47, 0.71, 1]],
      backgroundColor: [0, 0, 0, 0],
      lassoInitiator: false,
      lassoInitiatorParentElement: root,
      lassoLongPressIndicatorParentElement: root,
      lassoClearEvent: "lassoEnd",
      deselectOnEscape: false, // Escape leaves edit mode in a notebook: it must not clear every plot's selection
      deselectOnDblClick: true,
      opacityInactiveScale: 0.5,
      pointOutlineWidth: 1.5,
      spatialIndexUseWorker: false, // built from our arrays on this thread: no 10^6-array copy into a worker
      showReticle: false,
    });
  } catch (err) {
    const box = h("div", { class: "fx-error", text: `WebGL is not available in this browser, so the scatter cannot be drawn (${(err as Error)?.message ?? err}).` });
    frame.replaceWith(box);
    view.data("ready", "error");
    return;
  }
  view.add(() => {
    sp.destroy();
    lease.release();
  });
  // Tests and benchmarks reach the plot through the root element (not an API).
  (root as unknown as { fxScatter: unknown }).fxScatter = { plot: sp, rows: () => n, xy: () => xy };

  // ---- geometry: data <-> GL ----------------------------------------------------------------------------------
  let norm: Normalization = normalization(null, "equal");
  let cssW = 300;
  let cssH = 200;
  let userMoved = false;

  const bounds = (): Bounds | null => {
    const b = view.get("bounds");
    if (Array.isArray(b) && b.length === 4 && b.every((v) => typeof v === "number" && Number.isFinite(v))) {
      return [b[0], b[1], b[2], b[3]];
    }
    return finiteBounds(xy, n);
  };
  const aspect = () => (view.get("aspect") === "auto" ? "auto" : "equal");

  function updateNormalization(): boolean {
    const next = normalization(bounds(), aspect());
    const changed = next.cx !== norm.cx || next.cy !== norm.cy || next.sx !== norm.sx || next.sy !== norm.sy;
    norm = next;
    const xs = linearScale(norm.cx - norm.sx, norm.cx + norm.sx);
    const ys = linearScale(norm.cy - norm.sy, norm.cy + norm.sy);
    void sp.set({ xScale: xs, yScale: ys, aspectRatio: aspect() === "auto" ? cssW / cssH : 1 } as never);
    return changed;
  }

  function fitView(): void {
    const b = bounds();
    if (!b) return;
    const gl: Bounds =
      aspect() === "auto"
        ? [-cssW / cssH, cssW / cssH, -1, 1]
        : [(b[0] - norm.cx) / norm.sx, (b[1] - norm.cx) / norm.sx, (b[2] - norm.cy) / norm.sy, (b[3] - norm.cy) / norm.sy];
    const cam = fitCamera(gl, cssW / cssH);
    void sp.zoomToLocation(cam.target, cam.distance);
  }

  // ---- colours ------------------------------------------------------------------------------------------------
  const classes = () => (Array.isArray(view.get("classes")) ? view.get("classes") : []);
  const lut = (): Lut => resolveLut(view.get("cmap"), view.get("cmap_lut"));
  const limits = (): [number, number] | null => colorLimits(scoreRange, view.get("vmin"), view.get("vmax"));

  function mode(): ColorMode {
    const want = String(view.get("color_by") ?? "");
    if (want === "label" && codes && classes().length > 0) return "label";
    if (want === "score" && scores) return "score";
    if (want === "none") return "none";
    if (codes && classes().length > 0) return "label";
    return scores ? "score" : "none";
  }

  let channelKey = ""; // what the colour channel was last computed for
  let colorChannelData = new Float32Array(0);

  /** Colour channel and table for the current mode; true when the channel (so the points) changed. */
  function computeColors(): boolean {
    const m = mode();
    const lim = limits();
    const key = `${m}|${m === "score" ? lim?.join(",") : ""}|${classes().length}|${n}|${codesVersion}|${scoresVersion}`;
    if (colorChannelData.length !== n) colorChannelData = new Float32Array(n);
    const changed = key !== channelKey;
    if (changed) {
      colorChannel(m, n, codes, classes().length, scores, lim, colorChannelData);
      channelKey = key;
    }
    const table = colorTable(m, view.get("palette") ?? [], m === "score" ? lut() : null);
    void sp.set({ pointColor: table as never, colorBy: "valueA" });
    view.data("colorBy", m);
    return changed;
  }

  function recolor(): void {
    updateColorbar();
    if (computeColors()) scheduleDraw();
  }

  function updateColorbar(): void {
    const show = mode() === "score";
    setHidden(colorbar.el, !show);
    for (const item of cmapControls.items) setHidden(item, !show);
    if (show) colorbar.update(lut(), limits(), cssW + 2, view.get("score_name") || "score");
  }

  // ---- sizes and opacity --------------------------------------------------------------------------------------
  let sizeKey = "";
  let sizeChannel: Float32Array | null = null;
  function applyStyle(): void {
    const auto = autoStyle(n);
    const base = Number(view.get("point_size")) > 0 ? Number(view.get("point_size")) : auto.size;
    const alpha = Number(view.get("opacity")) > 0 ? Math.min(1, Number(view.get("opacity"))) : auto.opacity;
    sizeInput.value = String(base);
    opacityInput.value = String(alpha);
    if (sizes) {
      const key = `${n}|${sizesVersion}`;
      if (key !== sizeKey || !sizeChannel) {
        const s = sizeBins(sizes, n);
        sizeChannel = s.bins;
        sizeKey = key;
        sizeFactors = s.factors;
        scheduleDraw();
      }
      void sp.set({ pointSize: sizeFactors.map((f) => f * base), sizeBy: "valueB", opacity: alpha } as never);
    } else {
      sizeChannel = null;
      void sp.set({ pointSize: base, sizeBy: null, opacity: alpha } as never);
    }
  }
  let sizeFactors: number[] = [];

  // ---- drawing ------------------------------------------------------------------------------------------------
  let pts: number[][] | null = null;
  let positionsDirty = true;
  let drawing = false;
  let again = false;
  let draws = 0;
  let firstFrameMs = -1;
  let index: ArrayBuffer | undefined;
  let codesVersion = 0;
  let scoresVersion = 0;
  let sizesVersion = 0;

  // Messages that arrive together (points, then codes) make one draw: the loop starts on the next frame.
  const startDraw = view.frame(() => {
    if (drawing) again = true;
    else void drawLoop();
  });
  function scheduleDraw(positions = false): void {
    if (positions) positionsDirty = true;
    if (drawing) again = true;
    else startDraw();
  }

  async function drawLoop(): Promise<void> {
    drawing = true;
    try {
      do {
        again = false;
        if (view.disposed) return;
        const positions = positionsDirty || !index;
        positionsDirty = false;
        const started = performance.now();
        computeColors();
        pts = glPoints(xy, n, norm, colorChannelData, sizeChannel, pts);
        const visible = visibleRows(codes, n, hiddenClasses());
        try {
          await sp.draw(pts as never, {
            spatialIndex: positions ? undefined : index,
            zDataType: "categorical",
            wDataType: "categorical",
            select: Array.from(shownSelection),
            filter: visible ? Array.from(visible) : undefined,
          } as never);
        } catch (err) {
          if (view.disposed) return;
          console.warn("fxwidgets: the scatter could not be drawn", err);
          return;
        }
        if (view.disposed) return;
        filtered = visible !== null; // draw() drops an earlier filter and applied this one
        index = sp.get("spatialIndex") as ArrayBuffer | undefined;
        draws += 1;
        view.data("draws", draws);
        view.settled();
        view.data("points", n);
        view.data("drawMs", Math.round(performance.now() - started));
        if (firstFrameMs < 0 && n > 0 && received > 0) {
          firstFrameMs = performance.now() - t0;
          view.data("firstFrameMs", Math.round(firstFrameMs));
          view.data("ready", "true");
          if (!userMoved) fitView();
        }
        updateInfo();
      } while (again);
    } finally {
      drawing = false;
    }
  }

  // ---- axes and layout ------------------------------------------------------------------------------------------
  const scheduleAxes = view.frame(updateAxes);
  function updateAxes(): void {
    const xs = sp.get("xScale") as { domain(): number[] } | null;
    const ys = sp.get("yScale") as { domain(): number[] } | null;
    if (!xs || !ys) return;
    const [x0, x1] = xs.domain();
    const [y0, y1] = ys.domain();
    const key = [x0, x1, y0, y1, cssW, cssH, view.get("x_label"), view.get("y_label")].join("|");
    if (key !== axesKey) {
      axesKey = key;
      left.update({ kind: "linear", lo: y0, hi: y1, reverse: true }, cssH, view.get("y_label") || "");
      bottom.update({ kind: "linear", lo: x0, hi: x1 }, cssW, view.get("x_label") || "");
    }
    view.settled();
  }
  let axesKey = "";

  function relayout(width: number): void {
    // The left axis' width depends on its labels: lay it out at a guessed height, then size the plot.
    left.update({ kind: "linear", lo: -1, hi: 1, reverse: true }, 200, view.get("y_label") || "");
    const axisW = Math.max(left.thickness, 36);
    cssW = Math.max(120, Math.floor(width - axisW - 4));
    cssH = Math.round(Math.max(180, Math.min(560, cssW * 0.72)));
    lease.setSize(cssW, cssH);
    void sp.set({ width: cssW, height: cssH }).then(() => {
      updateNormalization();
      if (!userMoved) fitView();
      scheduleAxes();
    });
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    updateAxes();
    updateColorbar();
  }

  // ---- selection --------------------------------------------------------------------------------------------
  /** What the plot shows as selected: the trait, or rows another linked view selected just now. */
  let shownSelection: Int32Array = new Int32Array(0);
  let linked = false;

  function showSelection(rows: Int32Array, fromLink: boolean): void {
    shownSelection = rows;
    linked = fromLink;
    sp.select(Array.from(rows), { preventEvent: true });
    updateInfo();
  }
  const traitSelection = () => indicesFromBytes(view.get("selection"));

  const membership = joinLink(
    { get: (k) => view.get(k), has: (k) => view.has(k), on: (k, cb) => view.on(k as never, cb), add: (d) => view.add(d) },
    () => n,
    (rows) => showSelection(rows, true),
  );

  function userSelected(points: ArrayLike<number>): void {
    const rows = sortedUnique(points);
    shownSelection = rows;
    linked = false;
    if (!sameRows(rows, traitSelection())) view.set("selection", indicesToBytes(rows) as never);
    membership.publish(rows);
    updateInfo();
  }
  sp.subscribe("select", ({ points }: { points: number[] }) => userSelected(points));
  sp.subscribe("deselect", () => userSelected([]));
  view.on("selection", () => showSelection(traitSelection(), false));
  view.dom(clearButton, "click", () => {
    sp.deselect({ preventEvent: true });
    userSelected([]);
  });

  // ---- legend -----------------------------------------------------------------------------------------------
  const hiddenClasses = (): number[] => {
    const v = view.get("hidden_classes");
    return Array.isArray(v) ? v.filter((c) => Number.isInteger(c)) : [];
  };

  function renderLegend(): void {
    const names = classes();
    const show = mode() === "label" && names.length > 0;
    setHidden(legend, !show);
    if (!show) return;
    const counts = classCounts(codes, n, names.length);
    const palette = view.get("palette") ?? [];
    const off = new Set(hiddenClasses());
    const items: HTMLElement[] = [h("span", { class: "fx-legend-title", text: `${view.get("label_name") || "label"}:` })];
    for (let c = 0; c < Math.min(names.length, MAX_LEGEND); c++) {
      const swatch = h("span", { class: "fx-swatch" });
      swatch.style.background = palette[c] ?? "#999";
      // A span acting as a button (not a <button>): the legend belongs in the view's picture, controls do not.
      const item = h("span", {
        class: `fx-legend-item${off.has(c) ? " fx-off" : ""}`,
        attrs: { role: "button", tabindex: "0", "data-code": String(c), "aria-pressed": off.has(c) ? "false" : "true", title: `${names[c]}: click to ${off.has(c) ? "show" : "hide"}` },
        children: [swatch, h("span", { class: "fx-legend-name", text: names[c] }), h("span", { class: "fx-legend-count", text: `(${counts[c]})` })],
      });
      items.push(item);
    }
    if (names.length > MAX_LEGEND) items.push(h("span", { class: "fx-legend-title", text: `… ${names.length - MAX_LEGEND} more classes` }));
    legend.replaceChildren(...items);
    view.data("hidden", hiddenClasses().join(","));
  }
  const toggleFrom = (target: EventTarget | null) => {
    const item = (target as HTMLElement | null)?.closest?.(".fx-legend-item") as HTMLElement | null;
    const code = Number(item?.dataset.code);
    if (item && Number.isInteger(code)) view.set("hidden_classes", toggleClass(hiddenClasses(), code));
  };
  view.dom<MouseEvent>(legend, "click", (ev) => toggleFrom(ev.target));
  view.dom<KeyboardEvent>(legend, "keydown", (ev) => {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    ev.preventDefault();
    toggleFrom(ev.target);
  });

  let filtered = false;
  function applyHidden(): void {
    const visible = visibleRows(codes, n, hiddenClasses());
    // unfilter() rebuilds the index of every point: only when something was hidden
    if (visible) void sp.filter(Array.from(visible), { preventEvent: true });
    else if (filtered) void sp.unfilter({ preventEvent: true });
    filtered = visible !== null;
    renderLegend();
    updateInfo();
  }

  // ---- info line ----------------------------------------------------------------------------------------------
  function updateInfo(): void {
    const parts = [`${n.toLocaleString("en-US")} points`];
    const k = shownSelection.length;
    if (k > 0) parts.push(`${k.toLocaleString("en-US")} selected${linked ? " (from a linked view)" : ""}`);
    const hidden = hiddenClasses().length;
    if (hidden > 0) parts.push(`${hidden} ${hidden === 1 ? "class" : "classes"} hidden`);
    if (membership.linkId) parts.push("linked");
    info.textContent = parts.join(" · ");
    view.data("selected", k);
  }

  // ---- hover --------------------------------------------------------------------------------------------------
  let pointer = { x: 0, y: 0 };
  let hovered = -1;
  view.dom<MouseEvent>(canvas, "mousemove", (ev) => {
    const r = root.getBoundingClientRect();
    pointer = { x: ev.clientX - r.left, y: ev.clientY - r.top };
    if (tip.visible) tip.place(pointer.x, pointer.y);
  });
  view.dom(canvas, "mouseleave", () => hideTip());

  function hideTip(): void {
    hovered = -1;
    tip.hide();
  }

  function rowLines(i: number): TipLine[] {
    const lines: TipLine[] = [{ cls: "fx-tt-row", value: `row ${i}`, strong: true }];
    const names = classes();
    if (codes && names.length > 0) {
      const c = codes[i];
      lines.push({ cls: "fx-tt-label", label: view.get("label_name") || "label", value: c >= 0 && c < names.length ? names[c] : "none" });
    }
    if (scores) lines.push({ cls: "fx-tt-score", label: view.get("score_name") || "score", value: Number.isFinite(scores[i]) ? scores[i] : "none" });
    lines.push({ cls: "fx-tt-xy", label: `${view.get("x_label") || "x"}, ${view.get("y_label") || "y"}`, value: `${fmt(xy[2 * i])}, ${fmt(xy[2 * i + 1])}`, muted: true });
    return lines;
  }

  function showTip(i: number): void {
    hovered = i;
    const lines = rowLines(i);
    tip.show(lines);
    tip.place(pointer.x, pointer.y);
    const names = view.get("value_names") ?? [];
    if (!view.get("has_images") && names.length === 0) return;
    if (names.length > 0) lines.push({ cls: "fx-tt-values", value: "…", muted: true });
    tip.show(lines);
    void view
      .request<RowReply>("row", { index: i }, { channel: "hover" })
      .then((r) => {
        if (!r || hovered !== i) return;
        const extra: TipLine[] = Object.entries(r.result.values ?? {}).map(([k, v]) => ({
          cls: `fx-tt-v`,
          label: k,
          value: typeof v === "number" ? v : v === null || v === undefined ? "none" : String(v),
        }));
        const img = r.result.image ? thumbnail(r.result.image) : null;
        tip.show([...rowLines(i), ...extra], img ? { source: img, size: 96 } : null);
        tip.place(pointer.x, pointer.y);
        view.data("thumbnails", Number(root.dataset.thumbnails ?? 0) + (img ? 1 : 0));
      });
  }
  sp.subscribe("pointOver", (i: number) => showTip(i));
  sp.subscribe("pointOut", () => hideTip());

  // ---- controls -----------------------------------------------------------------------------------------------
  function setMode(m: "pan" | "lasso" | "box"): void {
    for (const b of modeButtons) b.setAttribute("aria-pressed", b.dataset.mode === m ? "true" : "false");
    plot.dataset.mode = m;
    view.data("mode", m);
    void sp.set({ mouseMode: m === "pan" ? "panZoom" : "lasso", lassoType: m === "box" ? "rectangle" : "freeform" } as never);
  }
  for (const b of modeButtons) view.dom(b, "click", () => setMode(b.dataset.mode as "pan" | "lasso" | "box"));
  view.dom(resetButton, "click", () => {
    userMoved = false;
    fitView();
  });
  view.dom(canvas, "wheel", () => (userMoved = true), { passive: true });
  view.dom<MouseEvent>(canvas, "mousedown", (ev) => {
    if (plot.dataset.mode === "pan" && !ev.shiftKey) userMoved = true;
  });
  view.dom(sizeInput, "input", () => void sp.set({ pointSize: sizes ? sizeFactors.map((f) => f * Number(sizeInput.value)) : Number(sizeInput.value) } as never));
  view.dom(sizeInput, "change", () => view.set("point_size", Number(sizeInput.value)));
  view.dom(opacityInput, "input", () => void sp.set({ opacity: Number(opacityInput.value) } as never));
  view.dom(opacityInput, "change", () => view.set("opacity", Number(opacityInput.value)));
  view.dom(colorBy, "change", () => view.set("color_by", colorBy.value));

  function syncColorBy(): void {
    const options: Array<readonly [string, string]> = [];
    if (classes().length > 0) options.push(["label", view.get("label_name") || "label"]);
    if (view.get("has_scores")) options.push(["score", view.get("score_name") || "score"]);
    options.push(["none", "one colour"]);
    setOptions(colorBy, options);
    colorBy.value = mode();
    setHidden(colorByLabel, options.length < 2);
  }

  // ---- messages from the kernel -------------------------------------------------------------------------------
  view.onMessage<PointsMessage>("points", (msg) => {
    const { start, xy: a } = msg;
    if (!Number.isInteger(start) || start < 0 || !a || a.shape?.length !== 2 || a.shape[1] !== 2) {
      console.warn("fxwidgets: ignored a malformed points message", { start, shape: a?.shape });
      return;
    }
    allocate();
    const k = Math.min(a.shape[0], n - start);
    if (k <= 0) return;
    xy.set((a.data as Float32Array).subarray(0, 2 * k), 2 * start);
    received += 1;
    view.live();
    const boundsChanged = updateNormalization();
    if (boundsChanged && !userMoved && firstFrameMs >= 0) fitView();
    scheduleDraw(true);
    scheduleAxes();
  });
  /** Rows start..start+k of a column (allocated for n rows, `empty` where nothing arrived yet). */
  function fill<T extends Int32Array | Float32Array>(col: T | null, make: (n: number) => T, msg: ColumnMessage): T | null {
    allocate();
    const start = Number(msg.start);
    const v = msg.values?.data;
    if (!Number.isInteger(start) || start < 0 || !v || msg.values.shape?.length !== 1) {
      console.warn(`fxwidgets: ignored a malformed ${msg.type} message`);
      return col;
    }
    const out = col && col.length === n ? col : make(n);
    const k = Math.min(v.length, n - start);
    if (k > 0) out.set(v.subarray(0, k) as never, start);
    return out;
  }
  view.onMessage<ColumnMessage>("codes", (msg) => {
    codes = fill(codes, (m) => new Int32Array(m).fill(-1), msg);
    codesVersion += 1;
    syncColorBy();
    renderLegend();
    recolor();
  });
  view.onMessage<ColumnMessage>("scores", (msg) => {
    scores = fill(scores, (m) => new Float32Array(m).fill(NaN), msg);
    scoresVersion += 1;
    scoreRange = scores ? finiteRange(scores) : null;
    syncColorBy();
    recolor();
  });
  view.onMessage<ColumnMessage>("sizes", (msg) => {
    sizes = fill(sizes, (m) => new Float32Array(m).fill(NaN), msg);
    sizesVersion += 1;
    applyStyle();
  });

  // ---- traits -------------------------------------------------------------------------------------------------
  view.on("n_points", () => {
    allocate();
    scheduleDraw(true);
  });
  view.on(["bounds", "aspect"], () => {
    if (updateNormalization()) scheduleDraw(true);
    if (!userMoved) fitView();
    scheduleAxes();
  });
  view.on(["classes", "palette", "color_by", "has_scores", "label_name", "score_name"], () => {
    syncColorBy();
    renderLegend();
    recolor();
  });
  view.on("hidden_classes", applyHidden);
  view.on(["point_size", "opacity"], applyStyle);
  view.on(["x_label", "y_label"], () => relayout(view.width()));
  // The camera moved (pan, zoom): new axes, and a new picture once it rests. Nothing runs on every frame.
  sp.subscribe("view", () => scheduleAxes());
  view.onTheme(() => {
    void sp.set({ lassoColor: view.theme.brand } as never);
    sp.redraw();
  });

  const requestSnapshot = () => {
    void view.request("snapshot", {}, { channel: "snapshot", timeoutMs: 120000 }).then((r) => {
      if (r) view.live();
    });
  };
  let lastStatus = view.get("status");
  view.on("status", () => {
    const status = view.get("status");
    if (status === "running" && lastStatus !== "running") userMoved = false; // a new embedding: follow it
    lastStatus = status;
  });

  allocate();
  void sp.set({ lassoColor: view.theme.brand } as never);
  syncColorBy();
  applyStyle();
  renderLegend();
  shownSelection = traitSelection();
  updateInfo();
  view.onResize((w) => relayout(w));
  requestSnapshot();
}

/** A uint8 (h, w, 3) or (h, w) image from the kernel on a canvas (the tooltip draws it). */
function thumbnail(a: NdArray): HTMLCanvasElement | null {
  const [hh, ww, ch = 1] = a.shape;
  if (!(hh > 0 && ww > 0) || a.data.length !== hh * ww * ch) return null;
  const px = pixelCanvas(ww, hh);
  if (!px) return null;
  const { canvas, ctx, image } = px;
  for (let p = 0; p < hh * ww; p++) {
    const v = a.data;
    image.data[4 * p] = v[p * ch];
    image.data[4 * p + 1] = v[p * ch + (ch >= 3 ? 1 : 0)];
    image.data[4 * p + 2] = v[p * ch + (ch >= 3 ? 2 : 0)];
    image.data[4 * p + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

export default defineView<ScatterTraits>({ name: "fx-scatter", css: CSS, rpcTimeoutMs: 30000 }, setup);
