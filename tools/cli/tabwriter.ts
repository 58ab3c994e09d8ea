/** The settings istioctl passes: `tabwriter.NewWriter(w, 0, 8, 5, ' ', 0)`. */
export interface TabwriterOptions {
  minwidth: number;
  padding: number;
}

export const ISTIOCTL_TABWRITER: TabwriterOptions = { minwidth: 0, padding: 5 };

/**
 * Go `text/tabwriter` with a space pad character and no flags. Each line is its cells; every cell
 * but the last is tab-terminated, so the last one never widens a column. Columns are aligned per
 * block of consecutive lines that have that column, exactly as Go does, so ragged input lays out
 * the same way istioctl's would.
 */
export function tabwrite(lines: readonly (readonly string[])[], options: TabwriterOptions = ISTIOCTL_TABWRITER): string {
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i];
      let text = '';
      cells.forEach((cell, j) => {
        text += cell;
        if (j < widths.length && j < cells.length - 1) text += ' '.repeat(Math.max(0, widths[j] - runeWidth(cell)));
      });
      out.push(text);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let current = line0; current < line1; current++) {
      if (column >= lines[current].length - 1) continue;
      writeLines(start, current);
      start = current;
      let width = options.minwidth;
      for (; current < line1; current++) {
        const cells = lines[current];
        if (column >= cells.length - 1) break;
        width = Math.max(width, runeWidth(cells[column]) + options.padding);
      }
      widths.push(width);
      format(start, current);
      widths.pop();
      start = current;
      current--; // the for-loop increment revisits the line that ended the block
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.map((line) => `${line}\n`).join('');
}

function runeWidth(text: string): number {
  return [...text].length;
}
