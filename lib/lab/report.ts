/**
 * What the labs share to report: a results folder per run, Markdown tables, and the files written there
 * (results.json, report.md, the SVG charts).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** Called as a lab advances: `done` of `total` steps, and what it is doing now. */
export type LabProgress = (done: number, total: number, step: string) => void;

/** What every lab returns: its figures as Markdown and JSON, and its charts as SVG documents. */
export interface LabReport<T> {
  lab: string;
  /** The Markdown shown on stdout and saved as report.md. */
  markdown: string;
  /** The raw results (saved as results.json). */
  results: T;
  /** File name -> SVG document. */
  charts: Record<string, string>;
}

/**
 * `dir`, or results/<lab>-<UTC timestamp> under the working directory; created if missing.
 * @example
 * const dir = resultsFolder('herd'); // results/herd-2026-11-23T14-30-00Z
 */
export function resultsFolder(lab: string, dir?: string): string {
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const folder = path.resolve(dir ?? path.join('results', `${lab}-${stamp}`));
  mkdirSync(folder, { recursive: true });
  return folder;
}

/**
 * Writes report.md, results.json and the charts into `folder`; returns the paths written.
 * @example
 * const files = saveReport(report, resultsFolder(report.lab));
 */
export function saveReport<T>(report: LabReport<T>, folder: string): string[] {
  const files: [string, string][] = [
    ['report.md', report.markdown + '\n'],
    ['results.json', JSON.stringify({ lab: report.lab, date: new Date().toISOString(), results: report.results }, null, 2) + '\n'],
    ...Object.entries(report.charts),
  ];
  return files.map(([name, text]) => {
    const file = path.join(folder, name);
    writeFileSync(file, text);
    return file;
  });
}

/**
 * A Markdown table; columns after the first are right-aligned (they hold numbers).
 * @example
 * markdownTable(['mode', 'wakeups'], [['plain', 4]]);
 */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/**
 * A number for a table: `digits` decimals below 100, none above (thousands separated).
 * @example
 * num(1.23456) === '1.23'; num(12345.6) === '12,346'
 */
export function num(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return '–';
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(digits);
}
