import { getStats, type Signals } from "./api";
import { align, bucketGrid, TimeChart, type TimeChartSpec } from "./charts";
import { bucketScope, type Context } from "./context";
import { byId, h, integer, percent, replace, utc } from "./dom";

const SIGNALS: [string, string][] = [
  ["copies", "Copied"],
  ["edits", "Edited"],
  ["regenerates", "Regenerated"],
  ["rephrases", "Rephrased"],
  ["abandons", "Abandoned"],
];

export class SignalsView {
  private chart: TimeChart | null = null;

  constructor(private readonly ctx: Context) {}

  async load(signal: AbortSignal): Promise<void> {
    const data = await getStats<Signals>("signals", this.ctx.params(), this.ctx.key, signal);
    this.render(data);
  }

  private render(data: Signals): void {
    const points = data.points;
    byId("signals-empty").hidden = points.length > 0;
    const grid = bucketGrid(data.range);
    const rates = SIGNALS.map(([name]) => align([points], (p) => (p[`${name}_rate`] as number | null) ?? null, grid));
    const spec: TimeChartSpec = {
      times: rates[0]?.times ?? [],
      lines: SIGNALS.map(([, label], i) => ({ label, values: rates[i]?.values[0] ?? [] })),
      yLabel: "per response",
      format: (v) => percent(v, 0),
      onPick: (t) => this.ctx.showResponses({ label: `${utc(t)} UTC`, ...bucketScope(t, data.range.bucket) }),
    };
    const totals = SIGNALS.map(([name, label]) => {
      const count = points.reduce((sum, p) => sum + ((p[name] as number | null) ?? 0), 0);
      return `${label} ${integer(count)}`;
    });
    const responses = points.reduce((sum, p) => sum + p.responses, 0);
    const host = byId("signals-chart");
    host.setAttribute("aria-label", `Implicit signals per response over time. ${integer(responses)} responses; ${totals.join(", ")}.`);
    if (this.chart) this.chart.update(spec);
    else this.chart = new TimeChart(host, spec);
    replace(
      byId("signals-table"),
      points.map((p) =>
        h(
          "tr",
          { "data-t": p.t },
          h("td", {}, utc(p.t)),
          h("td", { "data-metric": "responses" }, integer(p.responses)),
          SIGNALS.map(([name]) => h("td", { "data-metric": name }, `${integer(p[name] as number)} (${percent(p[`${name}_rate`] as number | null, 0)})`)),
          h("td", {}, h("button", { type: "button", class: "link", onclick: () => this.ctx.showResponses({ label: `${utc(p.t)} UTC`, ...bucketScope(p.t, data.range.bucket) }) }, "Responses")),
        ),
      ),
    );
  }
}
