// Small statistics and table printing shared by the benchmarks.

/** The q-quantile (0..1) of already sorted values, nearest-rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarise(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** A plain-text table: first row is the header. Numbers are right-aligned. */
export function formatTable(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const text = rows.map((row) => row.map((cell) => String(cell)));
  const widths = text[0]!.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  const line = (row: string[], isHeader: boolean) =>
    row
      .map((cell, i) => (!isHeader && typeof rows[0] !== 'undefined' && /^[-+]?[\d.,]+( ?[a-zA-Z%]*)?x?$/.test(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ');
  const out = [line(text[0]!, true), widths.map((w) => '-'.repeat(w)).join('  '), ...text.slice(1).map((r) => line(r, false))];
  return out.join('\n');
}

export const fmt = {
  int: (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '-'),
  ms: (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-'),
  mib: (bytes: number) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(1) : '-'),
  ratio: (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-'),
  pct: (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%` : '-'),
};
