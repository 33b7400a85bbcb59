// Plain-text output for people: aligned label/value lines and tables. `--json` prints the reply
// itself instead, for scripts.

/** A value as printed: null and missing become `-`. */
function cell(value: string | number | boolean | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}

/** `label  value` lines, labels padded to one width. */
export function record(
  rows: readonly (readonly [string, string | number | boolean | null | undefined])[],
): string {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${cell(value)}`).join('\n');
}

/** A table with a header line; `empty` is printed instead when there are no rows. */
export function table<Row>(
  rows: readonly Row[],
  columns: readonly (readonly [string, (row: Row) => string | number | boolean | null | undefined])[],
  empty: string,
): string {
  if (rows.length === 0) return empty;
  const cells = [
    columns.map(([header]) => header),
    ...rows.map((row) => columns.map(([, get]) => cell(get(row)))),
  ];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => line[index]?.length ?? 0)));
  return cells
    .map((line) =>
      line
        .map((text, index) => (index === line.length - 1 ? text : text.padEnd(widths[index] ?? 0)))
        .join('  '),
    )
    .join('\n');
}
