// The dashboard page: sign in with an analyst or admin key (kept in sessionStorage for this
// browser session only, never in the URL), then every section reads GET /v1/stats/<view>.
import { ApiError, type FilterValues, getStats, KEY_STORAGE } from "./api";
import type { Context, ResponsesScope } from "./context";
import { byId } from "./dom";
import { FilterForm } from "./filters";
import { HealthView } from "./health";
import { QualityView } from "./quality";
import { ReasonsView } from "./reasons";
import { ResponsesView } from "./responses";
import { SignalsView } from "./signals";

const HEALTH_REFRESH_MS = 30_000;

class Dashboard implements Context {
  kind: "admin" | "analyst" = "analyst";
  private readonly filters: FilterForm;
  private readonly quality: QualityView;
  private readonly reasons: ReasonsView;
  private readonly signals: SignalsView;
  private readonly health: HealthView;
  private readonly responses: ResponsesView;
  private loading: AbortController | null = null;
  private timer = 0;

  constructor(readonly key: string) {
    this.filters = new FilterForm(() => void this.refresh());
    this.quality = new QualityView(this);
    this.reasons = new ReasonsView(this);
    this.signals = new SignalsView(this);
    this.health = new HealthView(this);
    this.responses = new ResponsesView(this);
    byId("filters-reset").addEventListener("click", () => this.filters.reset());
  }

  params(): Record<string, string | undefined> {
    return this.filters.params();
  }

  showResponses(scope: ResponsesScope): void {
    void this.responses.open(scope).catch((e: unknown) => this.fail(e));
  }

  announce(message: string): void {
    byId("live").textContent = message;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = window.setInterval(() => {
      if (document.visibilityState === "visible") void this.health.load(new AbortController().signal).catch((e: unknown) => this.fail(e));
    }, HEALTH_REFRESH_MS);
  }

  stop(): void {
    window.clearInterval(this.timer);
    this.loading?.abort();
  }

  async refresh(): Promise<void> {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    document.body.setAttribute("aria-busy", "true");
    byId("error").hidden = true;
    try {
      const values = await getStats<FilterValues>("filters", this.params(), this.key, loading.signal);
      this.kind = values.kind;
      byId("who").textContent = values.kind === "admin" ? "Signed in with an admin key (every tenant)" : `Signed in with an analyst key (tenant ${values.values["tenant"]?.[0] ?? ""})`;
      this.filters.setValues(values);
      const range = values.range;
      byId("range-note").textContent = `${new Date(range.from * 1000).toISOString().slice(0, 16).replace("T", " ")} to ${new Date(range.to * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC, by ${range.bucket}`;
      await Promise.all([
        this.quality.load(loading.signal),
        this.reasons.load(loading.signal),
        this.signals.load(loading.signal),
        this.health.load(loading.signal),
        this.responses.load(loading.signal),
      ]);
      if (this.loading === loading) {
        document.body.setAttribute("aria-busy", "false");
        document.body.dataset["loaded"] = String(Date.now());
      }
    } catch (e) {
      if (!loading.signal.aborted) this.fail(e);
    }
  }

  fail(e: unknown): void {
    if (e instanceof DOMException && e.name === "AbortError") return;
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      signOut(`Signed out: ${e.message}`);
      return;
    }
    const box = byId("error");
    box.textContent = e instanceof Error ? e.message : String(e);
    box.hidden = false;
    document.body.setAttribute("aria-busy", "false");
  }
}

let dashboard: Dashboard | null = null;

function signOut(message = ""): void {
  sessionStorage.removeItem(KEY_STORAGE);
  dashboard?.stop();
  dashboard = null;
  byId("app").hidden = true;
  byId("signin").hidden = false;
  byId("signin-error").textContent = message;
  byId<HTMLInputElement>("signin-key").focus();
}

async function signIn(key: string): Promise<void> {
  const values = await getStats<FilterValues>("filters", {}, key);
  sessionStorage.setItem(KEY_STORAGE, key);
  byId("signin").hidden = true;
  byId("app").hidden = false;
  dashboard = new Dashboard(key);
  dashboard.kind = values.kind;
  await dashboard.start();
  byId("app-title").focus();
}

function main(): void {
  // A key handed in the URL (a bookmarklet, a script) is taken once and removed from the address.
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("key");
  if (fromUrl !== null) {
    url.searchParams.delete("key");
    history.replaceState(null, "", url);
  }
  byId("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>("signin-key");
    const key = input.value.trim();
    byId("signin-error").textContent = "";
    signIn(key)
      .then(() => (input.value = ""))
      .catch((e: unknown) => {
        byId("signin-error").textContent = e instanceof ApiError ? e.message : `Cannot reach the collector: ${String(e)}`;
      });
  });
  byId("signout").addEventListener("click", () => signOut());
  const stored = fromUrl ?? sessionStorage.getItem(KEY_STORAGE);
  if (stored) void signIn(stored).catch((e: unknown) => signOut(e instanceof Error ? e.message : String(e)));
  else signOut();
}

main();
