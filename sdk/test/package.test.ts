import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";

// Compiled to .test-build/test/: the package root is two levels up. `npm pack` builds dist/ (prepack).
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Gzipped size budget of each bundle: a widget must not weigh on the page it rates. */
const BUDGET_GZIP_BYTES = 11 * 1024;

describe("published package", () => {
  const out = mkdtempSync(join(tmpdir(), "fb-pack-"));
  after(() => rmSync(out, { recursive: true, force: true }));
  const stdout = execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: ROOT, encoding: "utf8" });
  // The prepack build prints its sizes first; the JSON report follows.
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  execFileSync("tar", ["-xzf", join(out, packed!.filename), "-C", out]);
  const pkgDir = join(out, "package");
  const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const files = new Set(packed!.files.map((f) => f.path));

  it("ships types, an ESM build and a script-tag build, and nothing of the sources", () => {
    for (const path of ["dist/feedback.js", "dist/feedback.d.ts", "dist/feedback.iife.js", "README.md"]) {
      assert.ok(files.has(path), `${path} missing from the package`);
    }
    assert.ok(![...files].some((p) => p.startsWith("src/") || p.startsWith("test/")), [...files].join(" "));
    const targets = [
      manifest.main,
      manifest.module,
      manifest.types,
      manifest.unpkg,
      manifest.exports["."].types,
      manifest.exports["."].import,
      manifest.exports["./iife"],
    ];
    for (const target of targets) assert.ok(files.has(target.replace(/^\.\//, "")), `${target} is not in the package`);
  });

  it("the ESM build imports and the types declare the API", async () => {
    const esm = await import(pathToFileURL(join(pkgDir, manifest.exports["."].import)).href);
    assert.equal(typeof esm.createFeedback, "function");
    const types = readFileSync(join(pkgDir, manifest.types), "utf8");
    assert.match(types, /createFeedback/);
    assert.match(readFileSync(join(pkgDir, "dist/config.d.ts"), "utf8"), /showDelayMs\?: number/);
  });

  it("the script-tag build defines window.FeedbackSDK", () => {
    const sandbox: { FeedbackSDK?: { createFeedback?: unknown } } = {};
    runInNewContext(readFileSync(join(pkgDir, "dist/feedback.iife.js"), "utf8"), sandbox);
    assert.equal(typeof sandbox.FeedbackSDK?.createFeedback, "function");
  });

  it(`each bundle stays within ${BUDGET_GZIP_BYTES / 1024} KiB gzipped`, () => {
    for (const bundle of ["dist/feedback.js", "dist/feedback.iife.js"]) {
      const size = gzipSync(readFileSync(join(pkgDir, bundle))).length;
      assert.ok(size <= BUDGET_GZIP_BYTES, `${bundle}: ${size} bytes gzipped, budget ${BUDGET_GZIP_BYTES}`);
    }
  });
});
