// The scaffold every view is built on: model access, typed listeners, RPC, theme, width, animation frames,
// the job row, and ONE clean-up tied to an AbortSignal. A view file is then only its drawing:
//
//   export default defineView<Traits>({ name: "fx-heatmap", css: CSS }, (view) => { ... });
//
// Everything registered through `view` (model listeners, DOM listeners, observers, timers, frames, pending
// requests) is undone when anywidget removes the view or aborts its signal, last registered first.

import type { AnyModel, RenderProps } from "@anywidget/types";
import { finalizer, type Disposer } from "./lifecycle";
import { createRpc, isExpectedRejection, onMessage, reportRpcFailure, type RequestOptions, type RpcClient, type RpcReply } from "./rpc";
import { readTheme, watchTheme, type Theme } from "./theme";
import { BASE_CSS, createJobUi, h, setHidden, styleElement, type JobUi } from "./ui";
import { contentWidth } from "./sizing";
import { createSnapshotter, type Snapshotter } from "./snapshot";
import { TOOLTIP_CSS } from "./tooltip";
import { TOOLBAR_CSS } from "./toolbar";
import { AXIS_CSS } from "./axis";
import { MATRIX_CSS } from "./matrix";

/** The kit's look, once per view: job row, tooltip, toolbar, axes, colour bars, matrix frames, saved pictures. */
const KIT_CSS = `${BASE_CSS}${TOOLTIP_CSS}${TOOLBAR_CSS}${AXIS_CSS}${MATRIX_CSS}
.fx-root { position: relative; }
.fx-root .fx-header { font-weight: 600; font-size: var(--jp-ui-font-size2, 15px); margin: 2px 0 4px; overflow-wrap: anywhere; }
.fx-root .fx-info { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); line-height: 1.4; margin-top: 4px;
  overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.fx-root.fx-showing-saved > :not(style):not(.fx-saved-picture):not(.fx-saved-note) { display: none !important; }
.fx-root .fx-saved-picture { display: block; max-width: 100%; height: auto; }
.fx-root .fx-saved-note { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); font-style: italic; margin: 2px 0 4px; }
/* The picture output Python displays right before each view (widgets/base.py): shown where the view cannot render
   (no widget state, nbconvert HTML, code hosts), hidden while the view itself is on the page after it. */
.jp-OutputArea-child:has(.fx-picture):has(+ .jp-OutputArea-child .fx-root) { display: none; }
`;

type Traits = Record<string, any>;

export interface ViewOptions {
  /** Class of the root element (also what tests select): "fx-heatmap", "fx-zoom", ... */
  name: string;
  /** The view's own CSS (the kit's CSS comes first). Static text from the bundle, never data. */
  css?: string;
  /** Default timeout of RPC requests (ms). */
  rpcTimeoutMs?: number;
}

export interface View<T extends Traits> {
  readonly model: AnyModel<T>;
  /** The output area's element anywidget gave us. */
  readonly el: HTMLElement;
  /** div.fx-root.<name>: everything the view draws goes in here. */
  readonly root: HTMLElement;
  readonly rpc: RpcClient;
  /** Aborted when the view is removed: pass it to fetches and listeners. */
  readonly signal: AbortSignal;
  readonly disposed: boolean;
  /** The JupyterLab theme (colours for canvas drawing), kept current. */
  readonly theme: Theme;

  get<K extends keyof T & string>(key: K): T[K];
  /** Whether the model has the trait at all (an optional trait a newer Python side adds). */
  has(key: string): boolean;
  /** Set a trait and send it to Python. */
  set<K extends keyof T & string>(key: K, value: T[K]): void;
  /** Call `steps`, in order, when any of the traits changes (`view.on(["cmap", "vmin"], syncControls, redraw)`). */
  on(keys: (keyof T & string) | Array<keyof T & string>, ...steps: Array<() => void>): void;
  /** addEventListener, removed on clean-up. */
  dom<E extends Event = Event>(target: EventTarget, type: string, cb: (ev: E) => void, opts?: AddEventListenerOptions): void;
  /** Kernel messages of one `type`, arrays unpacked. */
  onMessage<M extends { type: string }>(type: string, handler: (msg: M, buffers: DataView[]) => void): void;
  /**
   * A request to the kernel. Never rejects: resolves to null when it failed (a failure other than the expected
   * ones — superseded, view closed — is logged once and passed to `options.onError`).
   */
  request<R = any>(method: string, args?: Record<string, unknown>, options?: RequestOptions & { onError?: (err: unknown) => void }): Promise<RpcReply<R> | null>;
  /** Called with the new theme when JupyterLab switches theme. */
  onTheme(cb: (theme: Theme) => void): void;
  /** Called (at most once per frame) with the width the view may use, now and whenever it changes. */
  onResize(cb: (width: number) => void): void;
  /** The width the view may use now (CSS px). */
  width(): number;
  /** A function that runs `cb` once in the next animation frame however often it is called before. */
  frame(cb: () => void): () => void;
  /** setTimeout, cleared on clean-up. */
  later(ms: number, cb: () => void): () => void;
  /** Register a clean-up step. */
  add(d: Disposer): void;
  /** Log a failed request unless the failure was expected or the view is gone. */
  warn(method: string, err: unknown): void;
  /** root.dataset[key] = String(value): the attributes tests read. */
  data(key: string, value: unknown): void;
  /** Several of them at once: `view.data({ status: "", draws: 0 })`. */
  data(values: Record<string, unknown>): void;
  /** The header bound to the `title` trait. */
  titleElement(): HTMLElement;
  /** The progress bar, status text, Cancel button and error box bound to progress/status/error. */
  jobUi(): JobUi;
  /** A redraw finished: the picture for Python is taken once redraws have settled. */
  settled(): void;
  /** Live data arrived: a saved picture shown in its place goes away. */
  live(): void;
  readonly snapshots: Snapshotter;
}

/** A render function for anywidget built from `setup`. */
export function defineView<T extends Traits>(
  options: ViewOptions,
  setup: (view: View<T>) => void,
): { render: (props: Pick<RenderProps<T>, "model" | "el"> & { signal?: AbortSignal }) => () => void } {
  return {
    render(props) {
      const view = createView<T>(props, options);
      try {
        setup(view);
      } catch (err) {
        // A bug in a view shows as text in the output instead of an empty cell.
        console.error("fxwidgets: the view failed to start", err);
        const box = h("div", { class: "fx-error", text: `the view failed to start: ${(err as Error)?.message ?? err}` });
        view.root.appendChild(box);
      }
      view.snapshots.start();
      return view.cleanup;
    },
  };
}

const raf: (cb: () => void) => number =
  typeof requestAnimationFrame === "function"
    ? (cb) => requestAnimationFrame(cb)
    : (cb) => setTimeout(cb, 16) as unknown as number;
const caf: (id: number) => void =
  typeof cancelAnimationFrame === "function" ? (id) => cancelAnimationFrame(id) : (id) => clearTimeout(id);

function createView<T extends Traits>(
  { model, el, signal }: Pick<RenderProps<T>, "model" | "el"> & { signal?: AbortSignal },
  options: ViewOptions,
): View<T> & { cleanup: () => void } {
  const disposers: Disposer[] = [];
  const abort = new AbortController();
  let disposed = false;
  const rpc = createRpc(model, { timeoutMs: options.rpcTimeoutMs ?? 30000 });

  const root = h("div", { class: `fx-root ${options.name}` });
  root.appendChild(styleElement(KIT_CSS + (options.css ?? "")));
  el.appendChild(root);
  disposers.push(() => root.remove());

  let theme = readTheme(root);
  const themeListeners: Array<(t: Theme) => void> = [];
  disposers.push(
    watchTheme(root, (t) => {
      theme = t;
      for (const cb of themeListeners) cb(t);
    }),
  );

  const resizeListeners: Array<(w: number) => void> = [];
  let lastWidth = -1;
  const width = () => Math.floor(contentWidth(el, 640));
  const fireResize = () => {
    const w = width();
    if (w === lastWidth) return;
    lastWidth = w;
    for (const cb of resizeListeners) cb(w);
  };
  let resizeFrame: number | null = null;
  if (typeof ResizeObserver !== "undefined") {
    const ro = new ResizeObserver(() => {
      if (resizeFrame === null && !disposed) {
        resizeFrame = raf(() => {
          resizeFrame = null;
          if (!disposed) fireResize();
        });
      }
    });
    ro.observe(el);
    disposers.push(() => {
      ro.disconnect();
      if (resizeFrame !== null) caf(resizeFrame);
    });
  }

  let snapshots: Snapshotter;

  const view: View<T> & { cleanup: () => void } = {
    model,
    el,
    root,
    rpc,
    signal: abort.signal,
    get disposed() {
      return disposed;
    },
    get theme() {
      return theme;
    },
    get: (key) => model.get(key),
    has: (key) => model.get(key as keyof T) !== undefined,
    set(key, value) {
      model.set(key, value);
      model.save_changes();
    },
    on(keys, ...steps) {
      // One listener per trait that runs every step with no arguments (Backbone would pass (model, value) on).
      const cb = () => {
        for (const step of steps) step();
      };
      for (const k of Array.isArray(keys) ? keys : [keys]) {
        const event = `change:${k}`;
        model.on(event, cb);
        disposers.push(() => model.off(event, cb));
      }
    },
    dom(target, type, cb, opts) {
      const fn = cb as EventListener;
      target.addEventListener(type, fn, opts);
      disposers.push(() => target.removeEventListener(type, fn, opts));
    },
    onMessage(type, handler) {
      disposers.push(onMessage(model, type, handler));
    },
    request(method, args = {}, options = {}) {
      return rpc.request(method, args, options).then(
        (reply) => (disposed ? null : reply),
        (err) => {
          if (!disposed && !isExpectedRejection(err)) {
            reportRpcFailure(method, err);
            options.onError?.(err);
          }
          return null;
        },
      );
    },
    onTheme(cb) {
      themeListeners.push(cb);
    },
    onResize(cb) {
      resizeListeners.push(cb);
      cb(lastWidth >= 0 ? lastWidth : width());
    },
    width,
    frame(cb) {
      let id: number | null = null;
      disposers.push(() => {
        if (id !== null) caf(id);
      });
      return () => {
        if (id !== null || disposed) return;
        id = raf(() => {
          id = null;
          if (!disposed) cb();
        });
      };
    },
    later(ms, cb) {
      const t = setTimeout(() => {
        if (!disposed) cb();
      }, ms);
      const clear = () => clearTimeout(t);
      disposers.push(clear);
      return clear;
    },
    add(d) {
      disposers.push(d);
    },
    warn(method, err) {
      if (!disposed) reportRpcFailure(method, err);
    },
    data(keyOrValues: string | Record<string, unknown>, value?: unknown) {
      const entries = typeof keyOrValues === "string" ? [[keyOrValues, value] as const] : Object.entries(keyOrValues);
      for (const [key, v] of entries) root.dataset[key] = String(v);
    },
    titleElement() {
      const title = h("div", { class: "fx-header" });
      const sync = () => {
        const t = model.get("title" as keyof T);
        title.textContent = typeof t === "string" ? t : "";
        setHidden(title, !t);
      };
      view.on("title" as keyof T & string, sync);
      sync();
      return title;
    },
    jobUi() {
      const job = createJobUi(() => {
        job.cancel.disabled = true;
        void view.request("cancel");
      });
      disposers.push(() => job.destroy());
      const sync = () => {
        const status = String(model.get("status" as keyof T) ?? "");
        root.dataset.status = status;
        job.update({
          status,
          progress: Number(model.get("progress" as keyof T) ?? 0),
          error: String(model.get("error" as keyof T) ?? ""),
        });
      };
      view.on(["status", "progress", "error"] as Array<keyof T & string>, sync);
      sync();
      return job;
    },
    settled() {
      snapshots.schedule();
    },
    live() {
      snapshots.hideSaved();
    },
    get snapshots() {
      return snapshots;
    },
    cleanup: () => undefined,
  };
  snapshots = createSnapshotter(view as unknown as View<Traits>);

  // last: pending requests are rejected after the listeners are gone
  disposers.unshift(() => rpc.dispose());
  disposers.unshift(() => abort.abort());
  view.cleanup = finalizer(disposers, signal, () => {
    disposed = true;
  });
  return view;
}
