import { getStats, type Reasons } from "./api";
import type { Context } from "./context";
import { byId, h, integer, percent, replace } from "./dom";

// Reasons a thumbs up can carry (docs/contract.md §4); the rest explain a thumbs down.
const UP_REASONS = new Set(["correct", "clear", "fast", "useful", "good_citations"]);
const label = (v: string): string => v || "(none)";

export class ReasonsView {
  constructor(private readonly ctx: Context) {
    for (const input of document.querySelectorAll<HTMLInputElement>("input[name=reasons-by]")) {
      input.addEventListener("change", () => void this.load(new AbortController().signal).catch((e: unknown) => ctx.announce(String(e))));
    }
  }

  private by(): string {
    return document.querySelector<HTMLInputElement>("input[name=reasons-by]:checked")?.value ?? "model_version";
  }

  async load(signal: AbortSignal): Promise<void> {
    const data = await getStats<Reasons>("reasons", { ...this.ctx.params(), by: this.by() }, this.ctx.key, signal);
    this.render(data);
  }

  private render(data: Reasons): void {
    const totals = new Map<string, number>();
    for (const v of data.versions) for (const r of v.reasons) totals.set(r.reason, (totals.get(r.reason) ?? 0) + r.opinions);
    const reasons = [...totals.keys()].sort((a, b) => (totals.get(b) ?? 0) - (totals.get(a) ?? 0) || a.localeCompare(b));
    const versions = data.versions;
    byId("reasons-empty").hidden = reasons.length > 0;
    const dimension = data.by === "prompt_version" ? "Prompt version" : "Model version";
    replace(
      byId("reasons-head"),
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Reason"),
        versions.map((v) => h("th", { scope: "col", "data-version": v.version }, `${dimension} ${label(v.version)}`, h("span", { class: "muted" }, ` ${integer(v.up + v.down)} thumbs`))),
      ),
    );
    replace(
      byId("reasons-body"),
      reasons.map((reason) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", class: UP_REASONS.has(reason) ? "reason up" : "reason down" }, reason.replace(/_/g, " "), h("span", { class: "visually-hidden" }, UP_REASONS.has(reason) ? " (thumbs up reason)" : " (thumbs down reason)")),
          versions.map((v) => {
            const entry = v.reasons.find((r) => r.reason === reason);
            const share = entry?.share ?? 0;
            const scope = { label: `${dimension.toLowerCase()} ${label(v.version)}`, [data.by]: v.version };
            return h(
              "td",
              { "data-version": v.version, "data-reason": reason, "data-opinions": entry?.opinions ?? 0 },
              h(
                "button",
                {
                  type: "button",
                  class: "bar-cell",
                  "aria-label": `${reason.replace(/_/g, " ")}, ${dimension.toLowerCase()} ${label(v.version)}: ${entry?.opinions ?? 0} opinions, ${percent(share)} of its thumbs. Show its worst responses.`,
                  onclick: () => this.ctx.showResponses(scope),
                },
                h("span", { class: `bar ${UP_REASONS.has(reason) ? "up" : "down"}`, style: `width:${Math.min(100, share * 100).toFixed(1)}%`, "aria-hidden": "true" }),
                h("span", { class: "bar-label" }, `${integer(entry?.opinions ?? 0)} (${percent(share, 0)})`),
              ),
            );
          }),
        ),
      ),
    );
  }
}
