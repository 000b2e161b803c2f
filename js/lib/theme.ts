// JupyterLab theme colours, read from its CSS variables, for what CSS cannot style (canvas drawing).
// Styles in CSS use var(--jp-..., fallback) directly and follow the theme on their own.

export interface Theme {
  layout0: string; // page background
  layout1: string;
  layout2: string;
  font0: string; // strongest text
  font1: string;
  font2: string;
  border1: string;
  border2: string;
  fontFamily: string;
  fontSize: string;
  brand: string;
  error: string;
  /** Whether the theme is light (JupyterLab's data-jp-theme-light, else guessed from the background). */
  light: boolean;
}

/** JupyterLab's light theme values, used where a variable is missing (plain Notebook, VS Code, tests). */
export const LIGHT_FALLBACK: Readonly<Theme> = {
  layout0: "#ffffff",
  layout1: "#ffffff",
  layout2: "#eeeeee",
  font0: "rgba(0, 0, 0, 1)",
  font1: "rgba(0, 0, 0, 0.87)",
  font2: "rgba(0, 0, 0, 0.54)",
  border1: "#bdbdbd",
  border2: "#e0e0e0",
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif",
  fontSize: "13px",
  brand: "#1976d2",
  error: "#d32f2f",
  light: true,
};

const VARS: ReadonlyArray<[Exclude<keyof Theme, "light">, string]> = [
  ["layout0", "--jp-layout-color0"],
  ["layout1", "--jp-layout-color1"],
  ["layout2", "--jp-layout-color2"],
  ["font0", "--jp-ui-font-color0"],
  ["font1", "--jp-ui-font-color1"],
  ["font2", "--jp-ui-font-color2"],
  ["border1", "--jp-border-color1"],
  ["border2", "--jp-border-color2"],
  ["fontFamily", "--jp-ui-font-family"],
  ["fontSize", "--jp-ui-font-size1"],
  ["brand", "--jp-brand-color1"],
  ["error", "--jp-error-color1"],
];

/** Rough luminance test of a CSS colour written as #rgb, #rrggbb or rgb()/rgba(); null if unknown. */
function isLightColor(css: string): boolean | null {
  const c = css.trim().toLowerCase();
  let rgb: number[] | null = null;
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(c);
  if (hex) {
    const h = hex[1].length === 3 ? hex[1].replace(/./g, (x) => x + x) : hex[1];
    rgb = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  } else {
    const m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(c);
    if (m) rgb = [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  if (rgb === null) return null;
  return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] > 128;
}

/** The theme as seen from `el` (variables inherit, so read them on the widget's own element). */
export function readTheme(el: Element): Theme {
  const theme: Theme = { ...LIGHT_FALLBACK };
  let style: CSSStyleDeclaration | null = null;
  try {
    style = typeof getComputedStyle === "function" ? getComputedStyle(el) : null;
  } catch {
    style = null;
  }
  for (const [key, name] of VARS) {
    const v = style?.getPropertyValue(name).trim();
    if (v) theme[key] = v;
  }
  const flag = typeof document !== "undefined" ? document.body?.getAttribute("data-jp-theme-light") : null;
  theme.light = flag === "true" ? true : flag === "false" ? false : (isLightColor(theme.layout0) ?? true);
  return theme;
}

/**
 * Call `onChange(theme)` whenever JupyterLab switches theme (it sets data-jp-theme-light / data-jp-theme-name
 * on <body>) or the OS colour scheme flips. Returns the function that stops watching.
 */
export function watchTheme(el: Element, onChange: (theme: Theme) => void): () => void {
  const stops: Array<() => void> = [];
  const fire = () => onChange(readTheme(el));
  if (typeof MutationObserver !== "undefined" && typeof document !== "undefined" && document.body) {
    const obs = new MutationObserver(fire);
    obs.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
    stops.push(() => obs.disconnect());
  }
  if (typeof matchMedia === "function") {
    const mq = matchMedia("(prefers-color-scheme: dark)");
    if (typeof mq.addEventListener === "function") {
      mq.addEventListener("change", fire);
      stops.push(() => mq.removeEventListener("change", fire));
    }
  }
  return () => {
    for (const stop of stops.splice(0)) stop();
  };
}
