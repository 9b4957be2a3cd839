// Drives the dashboard in headless Chromium like a person would: signs in, changes filters,
// clicks a chart and a reason, opens a response, looks at it on a phone, signs out. Prints one
// JSON line on stdout: the figures the page shows (for the caller to hold against ClickHouse),
// console errors, and the screenshots it saved.
//
//   FEEDBACK_URL=http://127.0.0.1:8080 FEEDBACK_ADMIN_KEY=ak_... FEEDBACK_ANALYST_KEY=an_... \
//   FEEDBACK_FEATURE=chat FEEDBACK_ARTIFACTS=/tmp/shots node e2e/dashboard.mjs
//
// Env: CHROMIUM_PATH (default /usr/bin/chromium), FEEDBACK_E2E_TIMEOUT_MS (default 30000).
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function run({
  url = process.env.FEEDBACK_URL,
  adminKey = process.env.FEEDBACK_ADMIN_KEY,
  analystKey = process.env.FEEDBACK_ANALYST_KEY,
  feature = process.env.FEEDBACK_FEATURE,
  artifacts = process.env.FEEDBACK_ARTIFACTS || "e2e/.artifacts/dashboard",
  executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  timeout = Number(process.env.FEEDBACK_E2E_TIMEOUT_MS || 30_000),
} = {}) {
  if (!url || !adminKey || !analystKey || !feature) throw new Error("FEEDBACK_URL, FEEDBACK_ADMIN_KEY, FEEDBACK_ANALYST_KEY and FEEDBACK_FEATURE are required");
  await mkdir(artifacts, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), "feedback-dashboard-"));
  const browser = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: ARGS, timeout, viewport: { width: 1280, height: 800 } });
  const consoleErrors = [];
  const screenshots = [];
  const shot = async (page, name, fullPage = true) => {
    const path = join(artifacts, name);
    await page.screenshot({ path, fullPage });
    screenshots.push(path);
  };
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(timeout);
    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(msg.text());
      log(`console.${msg.type()}: ${msg.text()}`);
    });
    page.on("pageerror", (error) => consoleErrors.push(`page error: ${error.message}`));

    // Sign in with the admin key.
    await page.goto(new URL("/dashboard/", url).href);
    await page.getByLabel("API key").fill(adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await loaded(page);
    const afterSignIn = { url: page.url(), stored: await page.evaluate(() => sessionStorage.getItem("feedback.dashboard.key") !== null) };
    const tenantShownToAdmin = await page.locator("#tenant-field").isVisible();

    // Filters: this test's feature, then one model version, then back to all versions.
    await choose(page, "Feature", feature);
    const beforeVersion = await figures(page);
    await shot(page, "dashboard-1280.png");
    await shot(page, "dashboard-1280-viewport.png", false);
    await choose(page, "Model version", "m-new");
    const onlyNew = (await figures(page)).quality.map((row) => row.version);
    const urlWithFilters = page.url();
    await choose(page, "Model version", "__all__");

    // One click on the quality chart: the worst responses of the bucket under the cursor.
    const over = page.locator("#quality-chart .u-over");
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2);
    await page.mouse.click(box.x + box.width - 4, box.y + box.height / 2);
    await page.waitForFunction(() => document.getElementById("responses-scope")?.textContent?.includes("UTC"));
    const chartScope = await page.locator("#responses-scope").textContent();
    // One click on a reason: that version's worst responses.
    await page.locator('#reasons-body td[data-version="m-old"] button').first().click();
    await page.waitForFunction(() => document.getElementById("responses-scope")?.textContent?.includes("model version m-old"));
    const reasonScope = await page.locator("#responses-scope").textContent();
    const oldOnly = await page.locator("#responses-list .response").evaluateAll((items) => items.map((el) => el.dataset.messageId));
    await page.locator("#responses-reset").click();
    await page.waitForFunction(() => document.getElementById("responses-scope")?.textContent?.includes("all responses"));

    // Open the worst response, by keyboard.
    const first = page.locator(".response-open").first();
    await first.focus();
    await page.keyboard.press("Enter");
    const dialog = page.locator("#response-dialog");
    await dialog.waitFor({ state: "visible" });
    await page.waitForFunction(() => document.querySelectorAll("#response-body .events li").length > 0);
    const detail = await dialog.innerText();
    await shot(page, "response-dialog-1280.png", false);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    const focusBack = await page.evaluate(() => document.activeElement?.classList.contains("response-open") ?? false);

    // A phone.
    await page.setViewportSize({ width: 390, height: 844 });
    // the charts follow their boxes' size (ResizeObserver) on the next frames
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, null, { timeout: 3000 }).catch(() => {});
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) {
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll("body *")]
          .filter((el) => el.getBoundingClientRect().right + window.scrollX > window.innerWidth + 1 && !el.parentElement?.closest(".table-wrap"))
          .slice(0, 8)
          .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className} right=${Math.round(el.getBoundingClientRect().right)}`),
      );
      const widths = await page.evaluate(() => [`scrollX=${window.scrollX}`, ...["body", "#app", ".filters", "#main", "#quality"].map((sel) => `${sel}=${document.querySelector(sel)?.scrollWidth}`)]);
      log(`wider than the phone: ${wide.join("; ")} ${widths.join(" ")}`);
    }
    await shot(page, "dashboard-phone.png");
    await page.setViewportSize({ width: 1280, height: 800 });

    // Sign out; then an analyst key handed in the URL is taken and removed from the address.
    await page.getByRole("button", { name: "Sign out" }).click();
    const storedAfterSignOut = await page.evaluate(() => sessionStorage.getItem("feedback.dashboard.key"));
    const analystUrl = new URL("/dashboard/", url);
    analystUrl.searchParams.set("key", analystKey);
    await page.goto(analystUrl.href);
    await loaded(page);
    const analyst = {
      url: page.url(),
      who: await page.locator("#who").textContent(),
      tenantShown: await page.locator("#tenant-field").isVisible(),
    };
    const noEmoji = await page.evaluate(() => !/\p{Extended_Pictographic}/u.test(document.body.innerText));
    return {
      afterSignIn,
      tenantShownToAdmin,
      figures: beforeVersion,
      onlyNew,
      urlWithFilters,
      chartScope,
      reasonScope,
      oldOnly,
      detail,
      focusBack,
      overflow,
      storedAfterSignOut,
      analyst,
      noEmoji,
      consoleErrors,
      screenshots,
    };
  } finally {
    await browser.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

async function loaded(page, previous = null) {
  await page.waitForFunction((before) => {
    const at = document.body.dataset.loaded;
    return at !== undefined && at !== before && document.body.getAttribute("aria-busy") === "false";
  }, previous);
}

async function choose(page, label, value) {
  const previous = await page.evaluate(() => document.body.dataset.loaded ?? null);
  await page.getByRole("form", { name: "Filters" }).getByLabel(label, { exact: true }).selectOption(value);
  await loaded(page, previous);
}

async function figures(page) {
  return page.evaluate(() => {
    const text = (el) => (el?.textContent ?? "").trim();
    const number = (s) => Number(s.replace(/[^0-9.]/g, ""));
    const quality = [...document.querySelectorAll("#quality-summary tr")].map((row) => ({
      version: row.dataset.version,
      up: number(text(row.querySelector('[data-metric="up"]'))),
      down: number(text(row.querySelector('[data-metric="down"]'))),
      down_rate: text(row.querySelector('[data-metric="down_rate"]')),
      interval: text(row.querySelector('[data-metric="interval"]')),
    }));
    const reasons = [...document.querySelectorAll("#reasons-body td")].map((cell) => ({
      version: cell.dataset.version,
      reason: cell.dataset.reason,
      opinions: Number(cell.dataset.opinions),
      label: text(cell),
    }));
    const signals = [...document.querySelectorAll("#signals-table tr")].map((row) => ({
      t: Number(row.dataset.t),
      responses: number(text(row.querySelector('[data-metric="responses"]'))),
      copies: number(text(row.querySelector('[data-metric="copies"]')).split("(")[0]),
    }));
    const responses = [...document.querySelectorAll("#responses-list .response")].map((el) => ({
      message_id: el.dataset.messageId,
      downs: Number(el.dataset.downs),
      ups: Number(el.dataset.ups),
    }));
    const health = {
      lag: text(document.getElementById("health-lag")),
      dlq: text(document.getElementById("health-dlq")),
    };
    return { quality, reasons, signals, responses, health };
  });
}

function log(message) {
  process.stderr.write(`[dashboard-e2e] ${message}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolvePath(process.argv[1])).href) {
  try {
    process.stdout.write(`${JSON.stringify(await run())}\n`);
  } catch (error) {
    log(`failed: ${error?.stack ?? error}`);
    process.exit(1);
  }
}
