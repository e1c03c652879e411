/** Plain aligned columns for terminal output; a value longer than its cap is cut with "…". */
export function formatTable(headers: string[], rows: string[][], maxWidth = 40): string {
  const cell = (value: string) => (value.length > maxWidth ? `${value.slice(0, maxWidth - 1)}…` : value);
  const cells = [headers, ...rows].map((row) => row.map(cell));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  return cells.map((row) => row.map((value, column) => value.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}
