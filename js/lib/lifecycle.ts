// The end of a view's life: its clean-up steps run once, the last added first, when anywidget removes the view
// (the returned function) or aborts its signal. A failing step is reported and the others still run.

export type Disposer = () => void;

export function finalizer(disposers: Disposer[], signal: AbortSignal | undefined, onDisposed: () => void): () => void {
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    onDisposed();
    for (const d of disposers.splice(0).reverse()) {
      try {
        d();
      } catch (err) {
        console.warn("fxwidgets: cleanup step failed", err);
      }
    }
  };
  if (signal) {
    if (signal.aborted) cleanup();
    else signal.addEventListener("abort", cleanup, { once: true });
  }
  return cleanup;
}
