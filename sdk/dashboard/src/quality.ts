import { getStats, type Quality } from "./api";
import { align, bucketGrid, lineStyle, TimeChart, type TimeChartSpec } from "./charts";
import { bucketScope, type Context } from "./context";
import { byId, fixed, h, integer, percent, replace, utc } from "./dom";

const versionLabel = (v: string): string => v || "(no version)";

export class QualityView {
  private downChart: TimeChart | null = null;
  private ratingChart: TimeChart | null = null;

  constructor(private readonly ctx: Context) {}

  async load(signal: AbortSignal): Promise<void> {
    const data = await getStats<Quality>("quality", this.ctx.params(), this.ctx.key, signal);
    this.render(data);
  }

  private render(data: Quality): void {
    const bucket = data.range.bucket;
    const versions = data.series.map((s) => s.model_version);
    const grid = bucketGrid(data.range);
    const down = align(data.series.map((s) => s.points), (p) => p.down_rate, grid);
    const low = align(data.series.map((s) => s.points), (p) => p.low, grid);
    const high = align(data.series.map((s) => s.points), (p) => p.high, grid);
    const rating = align(data.series.map((s) => s.points), (p) => p.rating_mean, grid);
    const score = align(data.series.map((s) => s.points), (p) => p.mean_score, grid);
    const markers = data.markers.map((m) => ({ t: m.first, label: `${m.kind === "model_version" ? "model" : "prompt"} ${m.version}` }));
    const pick = (t: number, line: number): void => {
      const version = versions[line] ?? "";
      this.ctx.showResponses({ label: `${versionLabel(version)}, ${utc(t)} UTC`, model_version: version, ...bucketScope(t, bucket) });
    };

    const empty = byId("quality-empty");
    empty.hidden = data.series.length > 0;
    const downSpec: TimeChartSpec = {
      times: down.times,
      lines: versions.map((v, i) => ({
        label: versionLabel(v),
        values: down.values[i] ?? [],
        band: { low: low.values[i] ?? [], high: high.values[i] ?? [] },
      })),
      yLabel: "thumbs down",
      format: (v) => percent(v, 0),
      yRange: [0, 1],
      markers,
      onPick: pick,
    };
    const downHost = byId("quality-chart");
    downHost.setAttribute("aria-label", summary(data));
    if (this.downChart) this.downChart.update(downSpec);
    else this.downChart = new TimeChart(downHost, downSpec);

    const ratingLines = versions.map((v, i) => ({ label: `${versionLabel(v)} rating`, values: rating.values[i] ?? [] }));
    const scoreLines = data.has_scores ? versions.map((v, i) => ({ label: `${versionLabel(v)} score`, values: score.values[i] ?? [] })) : [];
    const hasRatings = ratingLines.some((l) => l.values.some((x) => x !== null));
    byId("rating-block").hidden = !hasRatings && scoreLines.length === 0;
    const ratingSpec: TimeChartSpec = {
      times: rating.times,
      lines: data.has_scores ? scoreLines : ratingLines,
      yLabel: data.has_scores ? "quality score" : "mean rating",
      format: (v) => fixed(v, data.has_scores ? 2 : 1),
      yRange: data.has_scores ? [0, 1] : [1, 5],
      markers,
      height: 180,
      onPick: pick,
    };
    byId("rating-title").textContent = data.has_scores ? "Mean quality score" : "Mean rating (1 to 5)";
    if (this.ratingChart) this.ratingChart.update(ratingSpec);
    else this.ratingChart = new TimeChart(byId("rating-chart"), ratingSpec);

    replace(
      byId("quality-summary"),
      data.totals.map((row, i) => {
        const { color, dash } = lineStyle(i);
        return h(
          "tr",
          { "data-version": row.model_version },
          h("th", { scope: "row" }, h("span", { class: `swatch${dash.length ? " dashed" : ""}`, style: `--swatch:${color}`, "aria-hidden": "true" }), versionLabel(row.model_version)),
          h("td", { "data-metric": "up" }, integer(row.up)),
          h("td", { "data-metric": "down" }, integer(row.down)),
          h("td", { "data-metric": "down_rate" }, percent(row.down_rate)),
          h("td", { "data-metric": "interval" }, row.low === null ? "–" : `${percent(row.low)} to ${percent(row.high)}`),
          h("td", { "data-metric": "rating_mean" }, row.ratings ? `${fixed(row.rating_mean, 2)} (${integer(row.ratings)})` : "–"),
          h("td", { "data-metric": "responses" }, integer(row.responses)),
          h(
            "td",
            {},
            h("button", { type: "button", class: "link", onclick: () => this.ctx.showResponses({ label: versionLabel(row.model_version), model_version: row.model_version }) }, "Worst responses"),
          ),
        );
      }),
    );
    replace(
      byId("quality-markers"),
      data.markers.length
        ? data.markers.map((m) => h("li", {}, `${m.kind === "model_version" ? "Model version" : "Prompt version"} ${m.version} first seen ${utc(m.first)} UTC`))
        : [h("li", {}, "No new model or prompt version in this range.")],
    );
    replace(
      byId("quality-table"),
      data.series.flatMap((s) =>
        s.points.map((p) =>
          h(
            "tr",
            {},
            h("td", {}, `${utc(p.t)}`),
            h("td", {}, versionLabel(s.model_version)),
            h("td", {}, integer(p.up)),
            h("td", {}, integer(p.down)),
            h("td", {}, percent(p.down_rate)),
            h("td", {}, p.low === null ? "–" : `${percent(p.low)} to ${percent(p.high)}`),
            h("td", {}, fixed(p.rating_mean, 2)),
            h("td", {}, h("button", { type: "button", class: "link", onclick: () => pick(p.t, versions.indexOf(s.model_version)) }, "Responses")),
          ),
        ),
      ),
    );
  }
}

function summary(data: Quality): string {
  if (!data.totals.length) return "Down-rate chart: no thumbs in this range.";
  const parts = data.totals.map((t) => `${versionLabel(t.model_version)} ${percent(t.down_rate)} down of ${t.thumbs} thumbs`);
  return `Down-rate per model version over time, with 95% bands. ${parts.join("; ")}.`;
}
