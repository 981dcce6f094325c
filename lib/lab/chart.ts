/**
 * Charts for the labs and benchmarks: a Vega-Lite spec rendered to SVG by Vega, headless (no DOM, no
 * canvas). Vega is ESM-only with top-level await, so it is loaded with a real dynamic `import()` that the
 * CommonJS build must not rewrite into `require()`.
 * @module
 */

// tsc (module: commonjs) turns `import()` into `require()`, which cannot load an ESM graph with top-level
// await; a Function keeps the native dynamic import.
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

// Code that a test runner evaluates in a vm context (vitest) has no native dynamic import there; the
// runner's own `import()`, left alone by its transform, loads the module instead.
async function esmImport(specifier: string): Promise<any> {
  try {
    return await nativeImport(specifier);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING') throw error;
    return import(specifier);
  }
}

/** A Vega-Lite specification (see https://vega.github.io/vega-lite/docs/). Kept loose on purpose. */
export type VegaLiteSpec = Record<string, unknown>;

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([esmImport('vega'), esmImport('vega-lite')]);
  const compiled = vegaLite.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', background: 'white', ...spec }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One row of a chart's data. */
export type Row = Record<string, string | number>;

/**
 * A grouped bar chart: one group per `x`, one bar per `series` inside it.
 * @example
 * const svg = await groupedBarChart({ title: 'round trips/s', rows, x: 'protocol', series: 'model', y: 'rps' });
 */
export function groupedBarChart(options: { title: string; rows: Row[]; x: string; series: string; y: string; yTitle?: string }): Promise<string> {
  const { title, rows, x, series, y } = options;
  return renderSvg({
    title,
    data: { values: rows },
    mark: 'bar',
    width: { step: 12 },
    encoding: {
      x: { field: x, type: 'nominal', title: x },
      xOffset: { field: series, type: 'nominal' },
      y: { field: y, type: 'quantitative', title: options.yTitle ?? y },
      color: { field: series, type: 'nominal', title: series },
      tooltip: [{ field: x }, { field: series }, { field: y }],
    },
  });
}

/**
 * A line chart with one line per `series`, on log axes where asked (the scaling lab's fds vs cost).
 * @example
 * const svg = await lineChart({ title: 'cost of one wait', rows, x: 'fds', y: 'us', series: 'backend', logX: true, logY: true });
 */
export function lineChart(options: {
  title: string;
  rows: Row[];
  x: string;
  y: string;
  series: string;
  logX?: boolean;
  logY?: boolean;
  xTitle?: string;
  yTitle?: string;
}): Promise<string> {
  const { title, rows, x, y, series } = options;
  return renderSvg({
    title,
    data: { values: rows },
    width: 480,
    height: 300,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x, type: 'quantitative', title: options.xTitle ?? x, scale: options.logX ? { type: 'log' } : {} },
      y: { field: y, type: 'quantitative', title: options.yTitle ?? y, scale: options.logY ? { type: 'log' } : {} },
      color: { field: series, type: 'nominal', title: series },
    },
  });
}
