import { getStats, type ResponseDetail, type ResponseRow, type Responses, type Trace } from "./api";
import type { Context, ResponsesScope } from "./context";
import { byId, type Child, fixed, h, integer, replace, utc } from "./dom";

const TRACE_FIELDS: [string, string][] = [
  ["model", "Model"],
  ["model_version", "Model version"],
  ["prompt_template", "Prompt template"],
  ["prompt_version", "Prompt version"],
  ["feature", "Feature"],
  ["provider", "Provider"],
  ["environment", "Environment"],
  ["latency_ms", "Latency (ms)"],
  ["time_to_first_token_ms", "First token (ms)"],
  ["input_tokens", "Input tokens"],
  ["output_tokens", "Output tokens"],
  ["tool_names", "Tools"],
  ["tool_failed", "A tool failed"],
  ["doc_ids", "Retrieved documents"],
  ["retry_count", "Retries"],
  ["error", "Error"],
  ["trace_id", "Trace"],
];

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "–";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

function signalsOf(r: ResponseRow): string {
  const parts: [number, string][] = [
    [r.regenerates, "regenerated"],
    [r.rephrases, "rephrased"],
    [r.edits, "edited"],
    [r.copies, "copied"],
    [r.abandons, "abandoned"],
  ];
  const shown = parts.filter(([n]) => n > 0).map(([n, what]) => `${what} ${n}x`);
  return shown.length ? shown.join(", ") : "no implicit signals";
}

export class ResponsesView {
  private scope: ResponsesScope = { label: "all responses in the filters" };
  private opener: HTMLElement | null = null;

  constructor(private readonly ctx: Context) {
    byId("responses-reset").addEventListener("click", () => {
      this.scope = { label: "all responses in the filters" };
      void this.load(new AbortController().signal).catch((e: unknown) => ctx.announce(String(e)));
    });
    const dialog = byId<HTMLDialogElement>("response-dialog");
    byId("response-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => this.opener?.focus());
  }

  async open(scope: ResponsesScope): Promise<void> {
    this.scope = scope;
    await this.load(new AbortController().signal);
    const section = byId("responses");
    section.scrollIntoView({ behavior: "smooth", block: "start" });
    byId("responses-title").focus();
  }

  async load(signal: AbortSignal): Promise<void> {
    const { label, ...narrow } = this.scope;
    const params = { ...this.ctx.params(), ...narrow, limit: "30" };
    const data = await getStats<Responses>("responses", params, this.ctx.key, signal);
    byId("responses-scope").textContent = `Showing ${label}.`;
    byId("responses-reset").hidden = Object.keys(narrow).length === 0;
    byId("responses-empty").hidden = data.responses.length > 0;
    replace(byId("responses-list"), data.responses.map((r, i) => this.item(r, i)));
    this.ctx.announce(`${data.responses.length} responses, worst first: ${label}.`);
  }

  private item(r: ResponseRow, index: number): HTMLElement {
    const trace = r.trace;
    const opinions = [`${r.downs} down`, `${r.ups} up`];
    if (r.ratings) opinions.push(`rating ${fixed(r.rating_mean, 1)} of ${r.ratings}`);
    const button = h(
      "button",
      { type: "button", class: "response-open", "data-message-id": r.message_id, "data-tenant": r.tenant_id },
      `${index + 1}. ${trace?.model_version ?? "(no trace)"}${trace?.prompt_version ? ` · prompt ${trace.prompt_version}` : ""} · ${opinions.join(", ")}`,
    );
    button.addEventListener("click", () => {
      this.opener = button;
      void this.detail(r).catch((e: unknown) => this.ctx.announce(String(e)));
    });
    return h(
      "li",
      { class: "response", "data-message-id": r.message_id, "data-downs": r.downs, "data-ups": r.ups },
      h("h3", {}, button),
      trace?.input_text ? h("p", { class: "input" }, h("span", { class: "tag" }, "Input"), " ", trace.input_text) : null,
      trace?.output_text ? h("p", { class: "output" }, h("span", { class: "tag" }, "Output"), " ", trace.output_text) : null,
      h(
        "p",
        { class: "muted" },
        r.reasons.length ? `Reasons: ${r.reasons.map((x) => x.replace(/_/g, " ")).join(", ")}. ` : "",
        `${signalsOf(r)}. `,
        r.comments.length ? `${r.comments.length} comment${r.comments.length > 1 ? "s" : ""}. ` : "",
        `Last signal ${utc(r.last_signal)} UTC.`,
      ),
    );
  }

  private async detail(r: ResponseRow): Promise<void> {
    const data = await getStats<ResponseDetail>("response", { message_id: r.message_id, tenant: r.tenant_id, trace_id: r.trace_id ?? undefined }, this.ctx.key);
    const dialog = byId<HTMLDialogElement>("response-dialog");
    byId("response-title").textContent = `Response ${r.message_id}`;
    const trace: Trace | undefined = data.traces[0];
    const ratings = data.opinions.ratings;
    replace(
      byId("response-body"),
      h(
        "p",
        { class: "summary" },
        `Current opinions: ${data.opinions.downs} thumbs down, ${data.opinions.ups} thumbs up`,
        ratings.length ? `, ratings ${ratings.join(", ")}` : "",
        ". Tenant ",
        r.tenant_id,
        ".",
      ),
      h("h3", {}, "Input"),
      h("pre", { class: "text" }, trace?.input_text ?? "(not reported)"),
      h("h3", {}, "Output"),
      h("pre", { class: "text" }, trace?.output_text ?? "(not reported)"),
      h("h3", {}, "Signals"),
      h(
        "ol",
        { class: "events" },
        data.events.map((e) => h("li", { class: e.current ? "current" : "" }, eventLine(e.type, e), e.current ? [" ", h("span", { class: "tag" }, "current")] : null)),
      ),
      h("h3", {}, "Trace"),
      trace
        ? h(
            "dl",
            { class: "trace" },
            TRACE_FIELDS.flatMap(([name, label]) => [h("dt", {}, label), h("dd", {}, show(trace[name]))]),
          )
        : h("p", {}, "No trace reported for this response yet."),
    );
    if (!dialog.open) dialog.showModal();
    byId("response-close").focus();
  }
}

function eventLine(type: string, e: ResponseDetail["events"][number]): Child[] {
  const who = e.user_id ?? e.session_id ?? "anonymous";
  const what: Child[] = [`${utc(e.ts / 1000)} UTC · ${who} · `];
  if (type === "thumbs") what.push(`thumbs ${e.thumb ?? ""}${e.reasons.length ? ` (${e.reasons.map((x) => x.replace(/_/g, " ")).join(", ")})` : ""}`);
  else if (type === "rating") what.push(`rated ${e.rating ?? ""}`);
  else if (type === "copy") what.push(`copied ${integer(e.copied_chars)} characters`);
  else if (type === "regenerate") what.push(`regenerated (attempt ${e.attempt ?? "?"})`);
  else if (type === "dwell") what.push(`read for ${fixed((e.dwell_ms ?? 0) / 1000, 1)} s`);
  else if (type === "edit") what.push("edited the answer");
  else what.push(type);
  if (e.comment) what.push(h("q", {}, e.comment));
  if (e.edited_text) what.push(h("pre", { class: "text" }, e.edited_text));
  return what;
}
