// Builds dist/: ESM bundle + types (for bundlers and `import`) and an IIFE
// bundle exposing `window.FeedbackSDK` (for a plain <script> tag); and
// dist/dashboard/, the dashboard page the collector serves at /dashboard/
// (uPlot bundled in: no CDN at run time).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const dist = new URL("../dist/", import.meta.url);
rmSync(dist, { recursive: true, force: true });

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });

const common = {
  entryPoints: ["src/feedback.ts"],
  bundle: true,
  minify: true,
  sourcemap: true,
  target: ["es2019"],
  legalComments: "none",
  logLevel: "warning",
};
await build({ ...common, format: "esm", outfile: "dist/feedback.js" });
await build({ ...common, format: "iife", globalName: "FeedbackSDK", outfile: "dist/feedback.iife.js" });

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.dashboard.json"], { stdio: "inherit" });
const dashboard = new URL("dashboard/", dist);
mkdirSync(dashboard, { recursive: true });
await build({ ...common, entryPoints: ["dashboard/src/main.ts"], format: "iife", outfile: "dist/dashboard/dashboard.js" });
for (const [from, to] of [
  ["../dashboard/index.html", "index.html"],
  ["../dashboard/dashboard.css", "dashboard.css"],
  ["../node_modules/uplot/dist/uPlot.min.css", "uPlot.min.css"],
]) {
  copyFileSync(new URL(from, import.meta.url), new URL(to, dashboard));
}

for (const file of ["feedback.js", "feedback.iife.js", "dashboard/dashboard.js"]) {
  const bytes = readFileSync(new URL(file, dist));
  console.log(`dist/${file}: ${(bytes.length / 1024).toFixed(1)} KiB, ${(gzipSync(bytes).length / 1024).toFixed(1)} KiB gzip`);
}

// Smoke check: the script-tag build defines window.FeedbackSDK.
const sandbox = {};
runInNewContext(readFileSync(new URL("feedback.iife.js", dist), "utf8"), sandbox);
if (typeof sandbox.FeedbackSDK?.createFeedback !== "function") throw new Error("IIFE build lacks FeedbackSDK.createFeedback");
