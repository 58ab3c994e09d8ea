/**
 * Draws a Grafana dashboard (the JSON of deploy/components/monitoring) as one static HTML page with
 * inline SVG line charts, laid out by each panel's gridPos, for a headless-browser screenshot. Only
 * what the README picture needs: timeseries panels, units, legends, threshold lines.
 */

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: {
    defaults?: {
      unit?: string;
      custom?: { thresholdsStyle?: { mode?: string } };
      thresholds?: { steps?: Array<{ color: string; value: number | null }> };
    };
  };
  targets?: Array<{ expr: string; legendFormat?: string }>;
}

export interface DashboardJson {
  title: string;
  panels: DashboardPanel[];
  templating?: { list: Array<{ name: string; label?: string; type: string }> };
}

/** One line of a panel: its legend and a value per time (undefined where the query gave none). */
export interface PanelLine {
  legend: string;
  values: Array<number | undefined>;
}

export interface RenderInput {
  dashboard: DashboardJson;
  /** Times (ms since the epoch) of the evaluation points, shared by every panel. */
  times: number[];
  lines: Map<number, PanelLine[]>;
  /** Errors by panel id (a query the evaluator refused): drawn in the panel instead of a chart. */
  errors: Map<number, string>;
  /** Shown under the title: how the data was made. */
  note: string;
  width: number;
}

const PALETTE = ['#73BF69', '#F2CC0C', '#8AB8FF', '#FF780A', '#F2495C', '#5794F2', '#B877D9', '#FADE2A', '#96D98D', '#FF9830', '#CA95E5'];
const ROW_PX = 27;
const HEADER_PX = 78;
const GAP = 8;

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function trimNumber(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 || value === 0 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

export function formatValue(value: number, unit = 'short'): string {
  if (unit === 's') {
    if (value === 0) return '0 s';
    if (Math.abs(value) < 1e-3) return `${trimNumber(value * 1e6)} µs`;
    if (Math.abs(value) < 1) return `${trimNumber(value * 1e3)} ms`;
    return `${trimNumber(value)} s`;
  }
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let scaled = value;
    let i = 0;
    while (Math.abs(scaled) >= 1024 && i < units.length - 1) {
      scaled /= 1024;
      i++;
    }
    return `${trimNumber(scaled)} ${units[i]}`;
  }
  const suffix = unit === 'reqps' ? ' req/s' : '';
  if (Math.abs(value) >= 1e6) return `${trimNumber(value / 1e6)}M${suffix}`;
  if (Math.abs(value) >= 1e3) return `${trimNumber(value / 1e3)}k${suffix}`;
  return `${trimNumber(value)}${suffix}`;
}

/** The axis maximum: 4 ticks of a "nice" step (1, 2, 2.5 or 5 times a power of ten, of 1024 for bytes) covering `max`. */
function niceMax(max: number, unit?: string): number {
  if (!(max > 0)) return 1;
  const rough = max / 4;
  const base = unit === 'bytes' ? 1024 ** Math.max(0, Math.floor(Math.log(rough) / Math.log(1024))) : 1;
  const scaled = rough / base;
  const power = 10 ** Math.floor(Math.log10(scaled));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * power >= scaled * (1 - 1e-9)) ?? 10;
  return 4 * step * power * base;
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

function chart(panel: DashboardPanel, lines: PanelLine[], times: number[], width: number, height: number): string {
  const unit = panel.fieldConfig?.defaults?.unit;
  const threshold =
    panel.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode === 'line'
      ? panel.fieldConfig.defaults.thresholds?.steps?.find((step) => step.value !== null)?.value
      : undefined;
  const all = lines.flatMap((line) => line.values.filter((v): v is number => v !== undefined));
  const top = niceMax(Math.max(0, ...all), unit);
  const left = 64;
  const right = 8;
  const bottom = 18;
  const plotW = width - left - right;
  const plotH = height - bottom - 6;
  const x = (i: number) => left + (times.length > 1 ? (plotW * i) / (times.length - 1) : 0);
  const y = (v: number) => 6 + plotH - (plotH * v) / top;
  const parts: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${escapeHtml(formatValue(v, unit))}</text>`);
  }
  const ticks: Array<[number, string]> = [
    [0, 'start'],
    [Math.floor((times.length - 1) / 2), 'middle'],
    [times.length - 1, 'end'],
  ];
  for (const [i, anchor] of ticks) {
    if (times[i] !== undefined)
      parts.push(`<text x="${x(i)}" y="${height - 3}" class="tick" text-anchor="${anchor}">${clock(times[i])}</text>`);
  }
  if (threshold !== undefined && threshold !== null && threshold <= top) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(threshold)}" y2="${y(threshold)}" class="threshold"/>`);
  }
  lines.forEach((line, n) => {
    const color = PALETTE[n % PALETTE.length];
    let segment: string[] = [];
    const flush = () => {
      if (segment.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${segment.join(' ')}"/>`);
      else if (segment.length === 1)
        parts.push(`<circle r="2" fill="${color}" cx="${segment[0].split(',')[0]}" cy="${segment[0].split(',')[1]}"/>`);
      segment = [];
    };
    line.values.forEach((value, i) => {
      if (value === undefined) flush();
      else segment.push(`${x(i).toFixed(1)},${y(value).toFixed(1)}`);
    });
    flush();
  });
  if (all.length === 0) parts.push(`<text x="${left + plotW / 2}" y="${6 + plotH / 2}" class="nodata" text-anchor="middle">No data</text>`);
  return `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function panelHtml(input: RenderInput, panel: DashboardPanel, column: number): string {
  const { x, y, w, h } = panel.gridPos;
  const left = GAP + x * column;
  const top = HEADER_PX + y * ROW_PX;
  const width = w * column - GAP;
  const height = h * ROW_PX - GAP;
  const lines = input.lines.get(panel.id) ?? [];
  const legendRows = Math.min(3, Math.ceil(lines.length / 2));
  const chartHeight = height - 26 - legendRows * 15 - 6;
  const error = input.errors.get(panel.id);
  const body = error
    ? `<div class="error">${escapeHtml(error)}</div>`
    : chart(panel, lines, input.times, width - 12, chartHeight) +
      `<div class="legend">${lines
        .map((line, n) => `<span><i style="background:${PALETTE[n % PALETTE.length]}"></i>${escapeHtml(line.legend)}</span>`)
        .join('')}</div>`;
  return (
    `<div class="panel" style="left:${left}px;top:${top}px;width:${width}px;height:${height}px">` +
    `<div class="title">${escapeHtml(panel.title)}</div>${body}</div>`
  );
}

export function renderDashboardHtml(input: RenderInput): string {
  const column = (input.width - GAP) / 24;
  const height = dashboardHeight(input.dashboard);
  const variables = (input.dashboard.templating?.list ?? [])
    .map((v) => `<span class="var"><b>${escapeHtml(v.label ?? v.name)}</b>${v.type === 'datasource' ? 'Prometheus' : 'All'}</span>`)
    .join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(input.dashboard.title)}</title><style>
body { margin: 0; background: #111217; color: #ccccdc; font: 12px 'DejaVu Sans', Inter, Helvetica, Arial, sans-serif; }
.page { position: relative; width: ${input.width}px; height: ${height}px; }
.header { position: absolute; left: ${GAP}px; right: ${GAP}px; top: 8px; }
.header h1 { font-size: 17px; font-weight: 500; margin: 0 0 6px; color: #e0e0ea; }
.var { display: inline-block; margin-right: 8px; border: 1px solid #2c3235; border-radius: 2px; padding: 2px 8px; background: #181b1f; }
.var b { font-weight: 500; color: #8e8e9e; margin-right: 6px; }
.note { position: absolute; right: 0; top: 2px; max-width: 820px; text-align: right; color: #8e8e9e; font-size: 11px; line-height: 15px; }
.panel { position: absolute; box-sizing: border-box; background: #181b1f; border: 1px solid #24292e; border-radius: 3px; padding: 0 6px; overflow: hidden; }
.title { height: 26px; line-height: 26px; font-weight: 500; color: #d8d9e5; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.legend { font-size: 11px; line-height: 15px; max-height: 45px; overflow: hidden; display: flex; flex-wrap: wrap; }
.legend span { width: 50%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.legend i { display: inline-block; width: 12px; height: 3px; margin: 0 5px 3px 0; vertical-align: middle; }
svg .grid { stroke: #2c3235; stroke-width: 1; }
svg .tick { fill: #8e8e9e; font-size: 10px; }
svg .threshold { stroke: #F2495C; stroke-width: 1.2; stroke-dasharray: 6 4; }
svg .nodata { fill: #6e6e7e; font-size: 13px; }
.error { color: #F2495C; padding-top: 20px; }
</style></head><body><div class="page">
<div class="header"><h1>${escapeHtml(input.dashboard.title)}</h1>${variables}<div class="note">${escapeHtml(input.note)}</div></div>
${input.dashboard.panels.map((panel) => panelHtml(input, panel, column)).join('\n')}
</div></body></html>
`;
}

/** The pixel height the page needs at `width` (for the screenshot window). */
export function dashboardHeight(dashboard: DashboardJson): number {
  const bottom = Math.max(...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h));
  return HEADER_PX + bottom * ROW_PX + GAP;
}
