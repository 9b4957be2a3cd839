import type { FilterValues, Params } from "./api";
import { byId, h, replace } from "./dom";

const DIMENSIONS = ["tenant", "feature", "model_version", "prompt_version"] as const;
const ALL = "__all__";

/** The filter form; its state lives in the page URL (never the key) so a view can be shared. */
export class FilterForm {
  constructor(private readonly onChange: () => void) {
    const url = new URL(location.href);
    const range = byId<HTMLSelectElement>("f-range");
    range.value = url.searchParams.get("range") ?? "24h";
    if (url.searchParams.get("from")) {
      range.value = "custom";
      byId<HTMLInputElement>("f-from").value = toLocal(url.searchParams.get("from") ?? "");
      byId<HTMLInputElement>("f-to").value = toLocal(url.searchParams.get("to") ?? "");
    }
    for (const name of DIMENSIONS) {
      const select = byId<HTMLSelectElement>(`f-${name}`);
      const value = url.searchParams.get(name);
      if (value !== null) replace(select, h("option", { value: ALL }, "All"), h("option", { value }, value || "(none)"));
      select.value = value ?? ALL;
    }
    this.syncCustom();
    byId("filters").addEventListener("change", () => {
      this.syncCustom();
      this.save();
      onChange();
    });
    byId("filters").addEventListener("submit", (e) => e.preventDefault());
  }

  private syncCustom(): void {
    const custom = byId<HTMLSelectElement>("f-range").value === "custom";
    byId("custom-range").hidden = !custom;
    if (custom && !byId<HTMLInputElement>("f-from").value) {
      const now = new Date();
      byId<HTMLInputElement>("f-to").value = now.toISOString().slice(0, 16);
      byId<HTMLInputElement>("f-from").value = new Date(now.getTime() - 7 * 86400000).toISOString().slice(0, 16);
    }
  }

  params(): Params {
    const params: Params = {};
    const range = byId<HTMLSelectElement>("f-range").value;
    if (range === "custom") {
      const from = byId<HTMLInputElement>("f-from").value;
      const to = byId<HTMLInputElement>("f-to").value;
      if (from) params["from"] = `${from}:00Z`;
      if (to) params["to"] = `${to}:00Z`;
    } else {
      params["from"] = range;
    }
    for (const name of DIMENSIONS) {
      const value = byId<HTMLSelectElement>(`f-${name}`).value;
      if (value !== ALL) params[name] = value;
    }
    return params;
  }

  private save(): void {
    const url = new URL(location.href);
    url.search = "";
    const range = byId<HTMLSelectElement>("f-range").value;
    const params = this.params();
    if (range !== "custom") url.searchParams.set("range", range);
    for (const [name, value] of Object.entries(params)) if (value !== undefined && !(name === "from" && range !== "custom")) url.searchParams.set(name, value);
    history.replaceState(null, "", url);
  }

  /** Fill the menus with what the range holds, keeping each current choice. */
  setValues(data: FilterValues): void {
    byId("tenant-field").hidden = data.kind !== "admin";
    for (const name of DIMENSIONS) {
      const select = byId<HTMLSelectElement>(`f-${name}`);
      const current = select.value;
      const values = data.values[name] ?? [];
      if (current !== ALL && !values.includes(current)) values.push(current);
      replace(select, h("option", { value: ALL }, name === "tenant" ? "All tenants" : "All"), values.map((v) => h("option", { value: v }, v || "(none)")));
      select.value = current;
    }
  }

  reset(): void {
    byId<HTMLSelectElement>("f-range").value = "24h";
    for (const name of DIMENSIONS) byId<HTMLSelectElement>(`f-${name}`).value = ALL;
    this.syncCustom();
    this.save();
    this.onChange();
  }
}

function toLocal(value: string): string {
  if (/^\d+$/.test(value)) return new Date(Number(value)).toISOString().slice(0, 16);
  return value.replace(/Z$/, "").slice(0, 16);
}
