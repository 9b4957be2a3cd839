import { type Alerts, getStats, type Health } from "./api";
import { TimeChart, type TimeChartSpec } from "./charts";
import type { Context } from "./context";
import { byId, fixed, h, integer, replace, utc } from "./dom";

export class HealthView {
  private chart: TimeChart | null = null;

  constructor(private readonly ctx: Context) {}

  async load(signal: AbortSignal): Promise<void> {
    const params = this.ctx.params();
    const [health, alerts] = await Promise.all([
      getStats<Health>("health", { tenant: params.tenant }, this.ctx.key, signal),
      getStats<Alerts>("alerts", params, this.ctx.key, signal),
    ]);
    this.renderHealth(health);
    this.renderAlerts(alerts);
  }

  private renderHealth(data: Health): void {
    const perMinute = data.events_per_minute;
    const lastHour = perMinute.reduce((sum, p) => sum + p.events, 0);
    const newest = data.newest_event_ms;
    const age = newest === null ? null : Math.max(0, (Date.now() - newest) / 1000);
    tile("health-lag", data.kafka.error ? "unknown" : integer(data.kafka.lag_messages), data.kafka.error ?? "messages not yet stored");
    tile("health-dlq", data.kafka.error ? "unknown" : integer(data.kafka.dlq_messages), "messages in the dead-letter topic");
    tile("health-rate", fixed(lastHour / data.minutes, 1), `events per minute, last ${data.minutes} minutes (${integer(lastHour)})`);
    tile("health-newest", age === null ? "none" : age < 120 ? `${Math.round(age)} s` : `${Math.round(age / 60)} min`, "since the newest stored event");
    byId("health-lag").closest(".tile")?.classList.toggle("warn", (data.kafka.lag_messages ?? 0) > 10000);
    byId("health-dlq").closest(".tile")?.classList.toggle("warn", (data.kafka.dlq_messages ?? 0) > 0);
    const now = Math.floor(Date.now() / 60000) * 60;
    const times: number[] = [];
    for (let t = now - data.minutes * 60; t <= now; t += 60) times.push(t);
    const byMinute = new Map(perMinute.map((p) => [p.t, p.events]));
    const spec: TimeChartSpec = {
      times,
      lines: [{ label: "events per minute", values: times.map((t) => byMinute.get(t) ?? 0) }],
      yLabel: "events",
      format: (v) => integer(v),
      height: 150,
    };
    const host = byId("health-chart");
    host.setAttribute("aria-label", `Events stored per minute over the last ${data.minutes} minutes: ${integer(lastHour)} in all.`);
    if (this.chart) this.chart.update(spec);
    else this.chart = new TimeChart(host, spec);
  }

  private renderAlerts(data: Alerts): void {
    const list = byId("alerts-list");
    if (!data.available) {
      replace(list, h("li", { class: "muted" }, "Alerts are not set up in this database yet."));
      return;
    }
    if (!data.alerts.length) {
      replace(list, h("li", { class: "muted" }, "No alerts in this range."));
      return;
    }
    replace(
      list,
      data.alerts.map((a) => {
        const dims = Object.entries(a.dimensions).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(", ");
        return h(
          "li",
          { class: `alert ${a.severity}` },
          h("strong", {}, `${a.severity === "critical" ? "Critical" : "Warning"}: ${a.metric.replace(/_/g, " ")}`),
          ` ${fixed(a.baseline, 3)} to ${fixed(a.current, 3)} (n ${integer(a.n)}, adjusted p ${a.p_adjusted.toPrecision(2)})`,
          h("br", {}),
          h("span", { class: "muted" }, `${dims || "all"}; ${utc(a.window_start)} to ${utc(a.window_end)} UTC`),
          " ",
          h(
            "button",
            {
              type: "button",
              class: "link",
              onclick: () =>
                this.ctx.showResponses({
                  label: `alert ${a.metric.replace(/_/g, " ")}`,
                  from: String(a.window_start * 1000),
                  to: String(a.window_end * 1000),
                  ...(a.dimensions["model_version"] !== undefined ? { model_version: a.dimensions["model_version"] } : {}),
                  ...(a.dimensions["prompt_version"] !== undefined ? { prompt_version: a.dimensions["prompt_version"] } : {}),
                }),
            },
            "Worst responses",
          ),
        );
      }),
    );
  }
}

function tile(id: string, value: string, caption: string): void {
  byId(id).textContent = value;
  const note = byId(`${id}-caption`);
  note.textContent = caption;
}
