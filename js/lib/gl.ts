// One WebGL context for every scatter view of the page. Browsers keep 8-16 live WebGL contexts per page and
// drop the oldest beyond that; regl-scatterplot can draw many plots with one renderer (each frame is copied onto
// the plot's own 2-D canvas), as jupyter-scatter does. Bundles are evaluated once per widget, so the shared
// renderer lives on globalThis; it is sized to the largest plot alive and destroyed with the last one.

import { createRenderer } from "regl-scatterplot";

type Renderer = ReturnType<typeof createRenderer>;

interface Pool {
  renderer: Renderer;
  sizes: Map<string, [number, number]>;
  size: [number, number];
}

const KEY = "__fxwidgets_gl_renderer_v1";

export interface RendererLease {
  readonly renderer: Renderer;
  /** The CSS size of this plot: the shared canvas grows to the largest plot. */
  setSize(width: number, height: number): void;
  release(): void;
}

function pool(): Pool {
  const g = globalThis as unknown as Record<string, Pool | undefined>;
  let p = g[KEY];
  if (!p || p.renderer.isDestroyed) {
    const canvas = document.createElement("canvas");
    const renderer = createRenderer({ canvas });
    p = { renderer, sizes: new Map(), size: [0, 0] };
    g[KEY] = p;
  }
  return p;
}

function fit(p: Pool): void {
  let w = 1;
  let h = 1;
  for (const [a, b] of p.sizes.values()) {
    w = Math.max(w, a);
    h = Math.max(h, b);
  }
  if (w !== p.size[0] || h !== p.size[1]) {
    p.size = [w, h];
    p.renderer.resize(w, h);
    p.renderer.refresh();
  }
}

/** Use the page's renderer (created on first use; throws when the browser has no WebGL). */
export function acquireRenderer(id: string): RendererLease {
  const p = pool();
  p.sizes.set(id, [1, 1]);
  let released = false;
  return {
    renderer: p.renderer,
    setSize(width, height) {
      if (released) return;
      p.sizes.set(id, [Math.max(1, Math.ceil(width)), Math.max(1, Math.ceil(height))]);
      fit(p);
    },
    release() {
      if (released) return;
      released = true;
      p.sizes.delete(id);
      if (p.sizes.size === 0) {
        p.renderer.destroy();
        delete (globalThis as unknown as Record<string, Pool | undefined>)[KEY];
      } else {
        fit(p);
      }
    },
  };
}
