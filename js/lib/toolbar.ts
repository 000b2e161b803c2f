// ONE toolbar: a row of labelled controls that wraps (never clips) in a narrow output area, and the colour
// controls every colour-mapped view shares — colour map, vmin, vmax and, for diverging maps, the centre — bound
// to the traits `cmap`, `vmin`, `vmax`, `center` (and `cmap_lut` for maps Python sampled). A trait the model does
// not have (e.g. `center` before Python adds it) is kept in the view instead of the model.

import { COLORMAP_NAMES, looksDiverging, parseLutTrait } from "./colormaps";
import { fmt } from "./format";
import { h, setHidden } from "./ui";
import type { View } from "./view";

export const TOOLBAR_CSS = `
.fx-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin: 0 0 6px; max-width: 100%; }
.fx-toolbar label { display: inline-flex; align-items: center; gap: 4px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54));
  white-space: nowrap; }
.fx-toolbar input[type="number"] { width: 6.5em; }
.fx-toolbar input[aria-invalid="true"] { border-color: var(--jp-error-color1, #d32f2f); }
.fx-toolbar select { max-width: 16em; }
`;

/** A label element "text [control]". */
export function labelled(text: string, control: HTMLElement, after = false): HTMLLabelElement {
  const l = h("label");
  if (after) l.append(control, document.createTextNode(text));
  else l.append(document.createTextNode(text), control);
  return l;
}

/** A toolbar row holding `items`. */
export function toolbar(...items: HTMLElement[]): HTMLElement {
  return h("div", { class: "fx-toolbar", children: items });
}

/** A <select> of [value, shown text] options (text inserted as text). */
export function selectOf(cls: string, aria: string, options: ReadonlyArray<readonly [string, string]>): HTMLSelectElement {
  const s = h("select", { class: cls, attrs: { "aria-label": aria } });
  setOptions(s, options);
  return s;
}

export function setOptions(s: HTMLSelectElement, options: ReadonlyArray<readonly [string, string]>): void {
  const now = Array.from(s.options).map((o) => [o.value, o.textContent ?? ""]);
  if (now.length === options.length && now.every(([v, t], i) => v === options[i][0] && t === options[i][1])) return;
  const value = s.value;
  s.replaceChildren(...options.map(([v, t]) => h("option", { text: t, attrs: { value: v } })));
  if (options.some(([v]) => v === value)) s.value = value;
}

/** A number box; empty means "auto" (null). */
export function numberBox(cls: string, aria: string, placeholder = "auto"): HTMLInputElement {
  return h("input", {
    class: cls,
    attrs: { type: "number", step: "any", placeholder, "aria-label": aria, inputmode: "decimal" },
  });
}

/** The number in a box: null when empty, NaN when not a number. */
export function readNumber(input: HTMLInputElement): number | null {
  const t = input.value.trim();
  if (t === "") return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : NaN;
}

/** A value that lives in a trait when the model has it, else in the view (an optional trait). */
export interface Param<V> {
  get(): V;
  set(v: V): void;
  /** Whether Python has the trait (the value is then saved with the widget and seen by Python). */
  readonly synced: boolean;
}

export function param<V>(view: View<any>, key: string, fallback: V, onChange?: () => void): Param<V> {
  const synced = view.has(key);
  let local = fallback;
  if (synced && onChange) view.on(key, onChange);
  return {
    synced,
    get: () => (synced ? (view.get(key) as V) : local),
    set(v) {
      if (synced) view.set(key, v);
      else {
        local = v;
        onChange?.();
      }
    },
  };
}

export interface ColorControls {
  /** The controls, to put in the view's toolbar. */
  readonly items: HTMLElement[];
  readonly cmap: HTMLSelectElement;
  readonly vmin: HTMLInputElement | null;
  readonly vmax: HTMLInputElement | null;
  readonly center: HTMLInputElement | null;
  /** The centre currently asked for (trait or view value), null for none. */
  centerValue(): number | null;
}

/**
 * Colour map select (select.fx-cmap), and optionally vmin/vmax boxes (input.fx-vmin / .fx-vmax) and a centre box
 * (input.fx-center, shown for diverging maps). `onChange` runs after any of them (or their traits) changed.
 */
export function colorControls(
  view: View<any>,
  onChange: () => void,
  { limits = true, center = true, cmaps = COLORMAP_NAMES as readonly string[] } = {},
): ColorControls {
  const cmap = selectOf("fx-cmap", "colour map", []);
  const vmin = limits ? numberBox("fx-vmin", "vmin") : null;
  const vmax = limits ? numberBox("fx-vmax", "vmax") : null;
  const centerBox = center ? numberBox("fx-center", "centre of a diverging map", "none") : null;
  const centerLabel = centerBox ? labelled("centre", centerBox) : null;
  const centre = param<number | null>(view, "center", null, () => {
    syncCenter();
    onChange();
  });

  const syncCmap = () => {
    const name = String(view.get("cmap") ?? "");
    const names = [...cmaps];
    const sent = parseLutTrait(view.get("cmap_lut"));
    if (sent?.name && !names.includes(sent.name)) names.push(sent.name); // a map Python sampled for us
    if (name && !names.includes(name)) names.push(name);
    setOptions(cmap, names.map((n) => [n, n] as const));
    cmap.value = name;
    if (centerLabel) setHidden(centerLabel, !looksDiverging(name));
  };
  const syncLimit = (input: HTMLInputElement | null, v: unknown) => {
    if (!input) return;
    // Shown to 4 significant digits (the box is narrow); the trait keeps its exact value until edited.
    input.value = typeof v === "number" && Number.isFinite(v) ? fmt(v) : "";
    input.title = typeof v === "number" && Number.isFinite(v) ? String(v) : input.title;
    input.removeAttribute("aria-invalid");
  };
  const checkOrder = () => {
    if (!vmin || !vmax) return;
    const a = view.get("vmin");
    const b = view.get("vmax");
    const bad = typeof a === "number" && typeof b === "number" && a > b;
    for (const input of [vmin, vmax]) {
      if (bad) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      input.title = bad ? "vmin is greater than vmax: the colour map is drawn reversed" : "empty = auto (the data's finite min/max)";
    }
  };
  const syncCenter = () => {
    if (!centerBox) return;
    const c = centre.get();
    centerBox.value = typeof c === "number" && Number.isFinite(c) ? String(c) : "";
    centerBox.title = "the value drawn in the middle colour; the range is made symmetric around it (empty = none)";
  };

  view.dom(cmap, "change", () => {
    view.set("cmap", cmap.value);
    syncCmap();
    onChange();
  });
  // A limit box follows its trait (set from Python, or by the box) and sets it when edited. The trait listener stands
  // without a box too: the limits still change the colours.
  const bindLimit = (input: HTMLInputElement | null, key: "vmin" | "vmax") => {
    view.on(key, () => {
      syncLimit(input, view.get(key));
      checkOrder();
      onChange();
    });
    if (!input) return;
    view.dom(input, "change", () => {
      const v = readNumber(input);
      if (Number.isNaN(v)) {
        input.setAttribute("aria-invalid", "true");
        return;
      }
      view.set(key, v);
      checkOrder();
      onChange();
    });
  };
  bindLimit(vmin, "vmin");
  bindLimit(vmax, "vmax");
  if (centerBox) {
    view.dom(centerBox, "change", () => {
      const v = readNumber(centerBox);
      if (Number.isNaN(v)) {
        centerBox.setAttribute("aria-invalid", "true");
        return;
      }
      centerBox.removeAttribute("aria-invalid");
      centre.set(v);
      if (!centre.synced) syncCenter();
    });
  }
  view.on(["cmap", "cmap_lut"], syncCmap, onChange);
  syncCmap();
  syncLimit(vmin, view.get("vmin"));
  syncLimit(vmax, view.get("vmax"));
  checkOrder();
  syncCenter();

  const items: HTMLElement[] = [labelled("cmap", cmap)];
  if (vmin && vmax) items.push(labelled("vmin", vmin), labelled("vmax", vmax));
  if (centerLabel) items.push(centerLabel);
  return {
    items,
    cmap,
    vmin,
    vmax,
    center: centerBox,
    centerValue: () => {
      const c = centre.get();
      return typeof c === "number" && Number.isFinite(c) && looksDiverging(view.get("cmap")) ? c : null;
    },
  };
}
