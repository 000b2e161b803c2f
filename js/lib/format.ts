// Numbers as text: ONE formatter for values shown to a person (tooltips, readouts, cells) and one rule for the
// labels of an axis (all ticks of an axis share a step, so they share a number of decimals). Pure functions.

/**
 * A value to `digits` significant digits (default 4), without trailing zeros: "0.1235", "1.235e+6", "NaN",
 * "inf". Plain notation between 1e-4 and 1e6, exponent notation outside.
 */
export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return "0";
  const d = Math.max(1, Math.min(17, Math.round(digits)));
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e6) {
    const s = String(Number(v.toPrecision(d)));
    // toPrecision can round 999999.5 up to 1e6, which String() then writes in full: keep it short.
    return Math.abs(Number(s)) >= 1e6 ? expo(v, d) : s;
  }
  return expo(v, d);
}

function expo(v: number, d: number): string {
  const [m, e] = v.toExponential(d - 1).split("e");
  return `${String(Number(m))}e${e}`;
}

/** A percentage of a share in [0, 1], rounded: "42%". */
export function percent(share: number): string {
  const p = Number.isFinite(share) ? Math.max(0, Math.min(1, share)) : 0;
  return `${Math.round(p * 100)}%`;
}

// ---- ticks ------------------------------------------------------------------------------------------------

/**
 * The "nice" step (1, 2 or 5 times a power of ten) that cuts [lo, hi] into about `count` intervals
 * (the rule of d3-array's tickIncrement / matplotlib's MaxNLocator with steps [1, 2, 5, 10]).
 */
export function niceStep(lo: number, hi: number, count: number): number {
  const span = Math.abs(hi - lo);
  if (!(span > 0) || !Number.isFinite(span) || !(count > 0)) return 0;
  const raw = span / count;
  const power = Math.floor(Math.log10(raw));
  const base = 10 ** power;
  const err = raw / base;
  const mult = err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1;
  return mult * base;
}

/**
 * Round values in [lo, hi] (inclusive, either order) at a nice step, about `count` of them, ascending.
 * lo == hi gives [lo]; non-finite bounds give [].
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) return [lo];
  const step = niceStep(lo, hi, Math.max(1, count));
  if (!(step > 0)) return [lo];
  // Work in integer multiples of the step so that 0.1 * 3 prints as 0.3, not 0.30000000000000004.
  const k0 = Math.ceil(lo / step - 1e-9);
  const k1 = Math.floor(hi / step + 1e-9);
  const out: number[] = [];
  const decimals = stepDecimals(step);
  for (let k = k0; k <= k1; k++) out.push(decimals > 0 ? Number((k * step).toFixed(decimals)) : k * step);
  return out;
}

/** Decimals needed to write multiples of `step` exactly (0.05 -> 2, 20 -> 0). */
export function stepDecimals(step: number): number {
  if (!(step > 0) || !Number.isFinite(step)) return 0;
  let d = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  // 0.25-like steps (from a caller's own grid) need one more.
  while (d < 12 && Math.abs(Number(step.toFixed(d)) - step) > step * 1e-6) d++;
  return d;
}

/**
 * Labels for ticks that share a step: the same number of decimals on all of them ("0.80", "0.85", "0.90");
 * exponent notation when the values are very large or the step very small; "-0" never appears.
 */
export function formatTicks(ticks: readonly number[]): string[] {
  if (ticks.length === 0) return [];
  let step = 0;
  for (let i = 1; i < ticks.length; i++) {
    const d = Math.abs(ticks[i] - ticks[i - 1]);
    if (d > 0 && (step === 0 || d < step)) step = d;
  }
  const top = Math.max(...ticks.map((t) => (Number.isFinite(t) ? Math.abs(t) : 0)));
  if (step === 0) return ticks.map((t) => fmt(t));
  if (top >= 1e6 || step < 1e-4) {
    // mantissa digits: enough to tell ticks apart at this step
    const digits = Math.max(1, Math.min(6, Math.floor(Math.log10(top / step) + 1e-9) + 1));
    return ticks.map((t) => (t === 0 ? "0" : expo(t, digits)));
  }
  const d = stepDecimals(step);
  return ticks.map((t) => {
    const s = t.toFixed(d);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
  });
}

/** "row 5" or "rows 40–47" (word is "row" or "col"). */
export function rangeText(word: string, lo: number, hi: number): string {
  return lo === hi ? `${word} ${lo}` : `${word}s ${lo}–${hi}`;
}

/** A label cut to at most `max` characters with an ellipsis (the full text belongs in the tooltip). */
export function shorten(text: string, max: number): string {
  if (max < 2 || text.length <= max) return text;
  return `${text.slice(0, max - 1)}…`;
}

/** A method id as a title a person reads: "integrated_gradients" -> "Integrated Gradients". */
const METHOD_TITLES: Readonly<Record<string, string>> = {
  saliency: "Saliency",
  input_x_gradient: "Input × Gradient",
  integrated_gradients: "Integrated Gradients",
  smoothgrad: "SmoothGrad",
  vargrad: "VarGrad",
  gradient_shap: "GradientSHAP",
  grad_cam: "Grad-CAM",
  occlusion: "Occlusion",
  feature_ablation: "Feature Ablation",
  shapley_exact: "Shapley Values (exact)",
  shapley_permutation: "Shapley Values (permutation sampling)",
  kernel_shap: "Kernel SHAP",
  concepts: "Concepts (Deep Feature Factorization)",
  fisher: "Fisher score",
  mi: "Mutual information",
  relieff: "ReliefF",
  inf_fs: "Inf-FS",
  ilfs: "Infinite Latent FS",
  laplacian: "Laplacian score",
  variance: "Variance",
  pearson: "Pearson correlation",
  mrmr: "mRMR",
  sequential_attention: "Sequential Attention",
};

export function methodTitle(id: string): string {
  const m = /^(.*?)( \(\d+\))?$/.exec(id); // "occlusion (2)": a method given twice keeps its number
  const base = m ? m[1] : id;
  const suffix = m?.[2] ?? "";
  const known = METHOD_TITLES[base];
  if (known) return known + suffix;
  if (!/^[a-z0-9_]+$/.test(base)) return id; // already a title ("concept 3", "My method")
  const words = base.split("_").filter(Boolean);
  if (words.length === 0) return id;
  return words.map((w, i) => (i === 0 ? w[0].toUpperCase() + w.slice(1) : w)).join(" ") + suffix;
}
