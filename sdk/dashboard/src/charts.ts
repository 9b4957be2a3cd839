// Time charts on uPlot (bundled, no CDN): lines per series, optional confidence bands, vertical
// markers where a version first appears, and a click that hands over the bucket under the cursor.
// Canvas is invisible to screen readers: each chart carries a text summary (aria-label) and its
// numbers sit in a data table beside it.
import uPlot from "uplot";

export const PALETTE = ["#1d4ed8", "#c2410c", "#047857", "#7e22ce", "#be123c", "#0e7490", "#4d7c0f", "#a16207"];
const DASHES: number[][] = [[], [6, 4], [2, 3], [10, 3, 2, 3]];

export interface Line {
  label: string;
  values: (number | null)[];
  band?: { low: (number | null)[]; high: (number | null)[] };
}

export interface Marker {
  t: number;
  label: string;
}

export interface TimeChartSpec {
  times: number[];
  lines: Line[];
  yLabel: string;
  format: (v: number) => string;
  yRange?: [number, number];
  markers?: Marker[];
  height?: number;
  /** Called with the bucket start and the line nearest the click. */
  onPick?: (t: number, line: number) => void;
}

function colour(i: number, alpha = 1): string {
  const hex = PALETTE[i % PALETTE.length] ?? "#1d4ed8";
  if (alpha === 1) return hex;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function lineStyle(i: number): { color: string; dash: number[] } {
  return { color: colour(i), dash: DASHES[i % DASHES.length] ?? [] };
}

function markerPlugin(markers: Marker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u: uPlot) => {
          const ctx = u.ctx;
          const { top, height } = u.bbox;
          ctx.save();
          ctx.strokeStyle = "#475569";
          ctx.fillStyle = "#334155";
          ctx.setLineDash([3, 3]);
          ctx.lineWidth = devicePixelRatio;
          ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
          ctx.textAlign = "left"; // uPlot leaves its axes' alignment on the context
          ctx.textBaseline = "alphabetic";
          let row = 0;
          for (const marker of markers) {
            const x = Math.round(u.valToPos(marker.t, "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            const width = ctx.measureText(marker.label).width;
            const left = x + 3 * devicePixelRatio + width > u.bbox.left + u.bbox.width ? x - width - 3 * devicePixelRatio : x + 3 * devicePixelRatio;
            ctx.fillText(marker.label, left, top + (12 + 13 * (row % 3)) * devicePixelRatio);
            row++;
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** Interval whiskers at each point: a band needs two neighbours to show, a lone hour does not. */
function whiskerPlugin(lines: Line[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u: uPlot) => {
          const ctx = u.ctx;
          const cap = 3 * devicePixelRatio;
          ctx.save();
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash([]);
          lines.forEach((line, i) => {
            if (!line.band) return;
            ctx.strokeStyle = colour(i, 0.75);
            (u.data[0] as number[]).forEach((t, idx) => {
              const low = line.band?.low[idx];
              const high = line.band?.high[idx];
              if (low == null || high == null) return;
              const x = Math.round(u.valToPos(t, "x", true));
              const y0 = u.valToPos(low, "y", true);
              const y1 = u.valToPos(high, "y", true);
              ctx.beginPath();
              ctx.moveTo(x, y0);
              ctx.lineTo(x, y1);
              ctx.moveTo(x - cap, y0);
              ctx.lineTo(x + cap, y0);
              ctx.moveTo(x - cap, y1);
              ctx.lineTo(x + cap, y1);
              ctx.stroke();
            });
          });
          ctx.restore();
        },
      ],
    },
  };
}

/** Markers at the same bucket share one line and one label. */
function mergeMarkers(markers: Marker[]): Marker[] {
  const byTime = new Map<number, string[]>();
  for (const m of markers) byTime.set(m.t, [...(byTime.get(m.t) ?? []), m.label]);
  return [...byTime.entries()].map(([t, labels]) => ({ t, label: labels.join(", ") }));
}

export class TimeChart {
  private plot: uPlot | null = null;
  private observer: ResizeObserver;

  constructor(
    private readonly host: HTMLElement,
    private spec: TimeChartSpec,
  ) {
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(host);
    this.render();
  }

  update(spec: TimeChartSpec): void {
    this.spec = spec;
    this.render();
  }

  private width(): number {
    return Math.max(260, Math.floor(this.host.clientWidth));
  }

  private resize(): void {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 2) this.plot.setSize({ width: this.width(), height: this.plot.height });
  }

  private render(): void {
    this.plot?.destroy();
    this.plot = null;
    const { times, lines, format, yLabel, markers = [], height = 240, yRange } = this.spec;
    if (times.length === 0) return;
    const series: uPlot.Series[] = [{ label: "Time (UTC)", value: (_u, v) => (v == null ? "–" : isoMinute(v)) }];
    const data: (number | null)[][] = [times];
    const bands: uPlot.Band[] = [];
    const hidden: number[] = [];
    lines.forEach((line, i) => {
      const { color, dash } = lineStyle(i);
      series.push({
        label: line.label,
        stroke: color,
        dash,
        width: 2,
        points: { show: true, size: 6 },
        spanGaps: false,
        value: (_u, v) => (v == null ? "–" : format(v)),
      });
      data.push(line.values);
    });
    lines.forEach((line, i) => {
      if (!line.band) return;
      const highIndex = series.length;
      hidden.push(highIndex, highIndex + 1);
      series.push({ label: `${line.label} upper 95%`, stroke: "transparent", points: { show: false }, legend: false } as uPlot.Series);
      data.push(line.band.high);
      series.push({ label: `${line.label} lower 95%`, stroke: "transparent", points: { show: false }, legend: false } as uPlot.Series);
      data.push(line.band.low);
      bands.push({ series: [highIndex, highIndex + 1], fill: colour(i, 0.14) });
    });
    const opts: uPlot.Options = {
      width: this.width(),
      height,
      series,
      bands,
      plugins: [...(markers.length ? [markerPlugin(mergeMarkers(markers))] : []), ...(bands.length ? [whiskerPlugin(lines)] : [])],
      scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
      axes: [
        { stroke: "#334155", grid: { stroke: "#e2e8f0" }, values: (_u, splits) => splits.map((s) => axisTime(s, times)) },
        { stroke: "#334155", grid: { stroke: "#e2e8f0" }, label: yLabel, size: 56, values: (_u, splits) => splits.map((s) => format(s)) },
      ],
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      legend: { live: true },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    };
    this.plot = new uPlot(opts, data as uPlot.AlignedData, this.host);
    // The band edges are series of their own: keep them out of the legend.
    const rows = this.plot.root.querySelectorAll<HTMLElement>(".u-legend .u-series");
    for (const index of hidden) rows[index]?.style.setProperty("display", "none");
    const onPick = this.spec.onPick;
    if (onPick) {
      const plot = this.plot;
      plot.over.style.cursor = "pointer";
      plot.over.addEventListener("click", () => {
        const idx = plot.cursor.idx;
        if (idx == null) return;
        const t = times[idx];
        if (t === undefined) return;
        const top = plot.cursor.top ?? 0;
        const y = plot.posToVal(top, "y");
        let best = 0;
        let distance = Infinity;
        lines.forEach((line, i) => {
          const v = line.values[idx];
          if (v != null && Math.abs(v - y) < distance) {
            distance = Math.abs(v - y);
            best = i;
          }
        });
        onPick(t, best);
      });
    }
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot?.destroy();
  }
}

function isoMinute(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

function axisTime(seconds: number, times: number[]): string {
  const iso = new Date(seconds * 1000).toISOString();
  const first = times[0] ?? 0;
  const last = times[times.length - 1] ?? 0;
  return last - first > 2 * 86400 ? iso.slice(5, 10) : iso.slice(11, 16);
}

/** Every bucket start of the range (hours or days; weeks: none, the data's own are used). */
export function bucketGrid(range: { from: number; to: number; bucket: string }): number[] {
  const step = range.bucket === "hour" ? 3600 : range.bucket === "day" ? 86400 : 0;
  const grid: number[] = [];
  if (step) for (let t = range.from; t < range.to; t += step) grid.push(t);
  return grid;
}

/** The range's buckets plus the series' own, sorted, and each series' values on them (null = no data). */
export function align<P extends { t: number }>(series: P[][], pick: (p: P) => number | null, grid: number[] = []): { times: number[]; values: (number | null)[][] } {
  const times = [...new Set([...grid, ...series.flatMap((points) => points.map((p) => p.t))])].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const values = series.map((points) => {
    const row: (number | null)[] = times.map(() => null);
    for (const p of points) row[index.get(p.t) ?? 0] = pick(p);
    return row;
  });
  return { times, values };
}
