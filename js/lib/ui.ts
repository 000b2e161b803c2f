// Small DOM helpers shared by the views. Data-derived text goes in through textContent only, never innerHTML.

export interface ElOptions {
  class?: string;
  text?: string;
  attrs?: Record<string, string>;
  children?: Node[];
}

/** document.createElement with a class, text (as textContent), attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, opts: ElOptions = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (opts.class) node.className = opts.class;
  if (opts.text !== undefined) node.textContent = opts.text;
  if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) node.setAttribute(k, v);
  if (opts.children) for (const c of opts.children) node.appendChild(c);
  return node;
}

/** A <style> element holding `css` (static stylesheet text from the bundle, never data). */
export function styleElement(css: string): HTMLStyleElement {
  const s = document.createElement("style");
  s.textContent = css;
  return s;
}

/**
 * An off-page canvas of `width` x `height` pixels (both > 0) with its 2-D context and a blank ImageData of its size:
 * fill `image.data` (RGBA), then `ctx.putImageData(image, 0, 0)`. Null without a 2-D context.
 */
export function pixelCanvas(width: number, height: number): { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D; image: ImageData } | null {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  return { canvas, ctx, image: ctx.createImageData(width, height) };
}

export function setHidden(node: HTMLElement, hidden: boolean): void {
  node.hidden = hidden;
  node.style.display = hidden ? "none" : "";
}

/** The shared look of the job controls; scoped under .fx-root. Uses JupyterLab variables with fallbacks. */
export const BASE_CSS = `
.fx-root {
  font-family: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px);
  color: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87));
  box-sizing: border-box;
  max-width: 100%;
}
.fx-root *, .fx-root *::before, .fx-root *::after { box-sizing: inherit; }
.fx-root button, .fx-root select, .fx-root input {
  font: inherit;
  color: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87));
  background: var(--jp-layout-color1, #fff);
  border: 1px solid var(--jp-border-color1, #bdbdbd);
  border-radius: 2px;
  padding: 1px 4px;
}
.fx-root button { cursor: pointer; }
.fx-root button:hover { background: var(--jp-layout-color2, #eee); }
.fx-job { display: flex; align-items: center; gap: 8px; min-height: 22px; margin: 4px 0; }
.fx-progress { flex: 0 1 200px; width: 200px; height: 8px; accent-color: var(--jp-brand-color1, #1976d2); }
.fx-status { color: var(--jp-ui-font-color2, rgba(0, 0, 0, 0.54)); font-variant-numeric: tabular-nums; }
.fx-error {
  margin: 4px 0;
  padding: 4px 8px;
  color: var(--jp-error-color1, #d32f2f);
  border-left: 3px solid var(--jp-error-color1, #d32f2f);
  background: var(--jp-layout-color2, #eee);
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
`;

export type JobStatus = "idle" | "running" | "done" | "cancelled" | "error";

export interface JobState {
  status: string;
  progress: number;
  error: string;
}

export interface JobUi {
  /** .fx-job row: progress bar, status text and Cancel button. */
  row: HTMLElement;
  /** .fx-error box, shown only while status is "error". */
  errorBox: HTMLElement;
  progress: HTMLProgressElement;
  statusText: HTMLElement;
  cancel: HTMLButtonElement;
  update(state: JobState): void;
  destroy(): void;
}

/** Words shown next to the progress bar. */
export function statusLine(state: JobState): string {
  const pct = Number.isFinite(state.progress) ? Math.round(Math.max(0, Math.min(1, state.progress)) * 100) : 0;
  switch (state.status) {
    case "running":
      return `running… ${pct}%`;
    case "done":
      return "done";
    case "cancelled":
      return `cancelled at ${pct}%`;
    case "error":
      return "error";
    case "idle":
      return "idle";
    default:
      return String(state.status);
  }
}

/** Progress bar (.fx-progress), status text (.fx-status), Cancel (button.fx-cancel) and error box (.fx-error). */
export function createJobUi(onCancel: () => void): JobUi {
  const progress = h("progress", { class: "fx-progress", attrs: { max: "1", value: "0", "aria-label": "progress" } });
  const statusText = h("span", { class: "fx-status", attrs: { role: "status", "aria-live": "polite" } });
  const cancel = h("button", { class: "fx-cancel", text: "Cancel", attrs: { type: "button", title: "Cancel the job" } });
  const row = h("div", { class: "fx-job", children: [progress, statusText, cancel] });
  const errorBox = h("div", { class: "fx-error", attrs: { role: "alert" } });
  const click = (ev: Event) => {
    ev.preventDefault();
    onCancel();
  };
  cancel.addEventListener("click", click);
  setHidden(errorBox, true);

  const update = (state: JobState) => {
    const p = Number.isFinite(state.progress) ? Math.max(0, Math.min(1, state.progress)) : 0;
    progress.value = p;
    progress.textContent = `${Math.round(p * 100)}%`;
    statusText.textContent = statusLine(state);
    const running = state.status === "running";
    setHidden(cancel, !running);
    cancel.disabled = !running;
    const failed = state.status === "error";
    errorBox.textContent = failed ? state.error || "the job failed" : "";
    setHidden(errorBox, !failed);
  };

  return {
    row,
    errorBox,
    progress,
    statusText,
    cancel,
    update,
    destroy() {
      cancel.removeEventListener("click", click);
    },
  };
}
