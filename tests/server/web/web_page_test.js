// The web page at GET / in headless Chromium: upload a clip through the file input (there is
// no microphone in headless mode), check that the verdict and the probability plot appear,
// and save a screenshot (OUT_DIR/web_page.png) for a person to look at. The clip is uploaded
// as "cough.wav" (a WebM/Opus recording, as the seed system's app names it) with the
// threshold field left empty: the page must show the model's own threshold, the server must
// apply it, and the verdict must equal `coughkit detect` on the same file.
//
//   node web_page_test.js COUGHKIT_BIN MODEL.onnx AUDIO_FILE OUT_DIR
"use strict";
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const [bin, model, audio, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node web_page_test.js COUGHKIT_BIN MODEL.onnx AUDIO_FILE OUT_DIR");
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitReady(base, server) {
  for (let i = 0; i < 600; i++) {
    if (server.exitCode !== null) throw new Error("coughkit serve exited with " + server.exitCode);
    try {
      const res = await fetch(base + "/health");
      if ((await res.json()).model_loaded) return;
    } catch (_) { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("coughkit serve did not become ready");
}

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  console.log("ok: " + what);
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const port = await freePort();
  const base = "http://127.0.0.1:" + port;
  const log = fs.openSync(path.join(outDir, "server.log"), "w");
  const server = spawn(bin, ["serve", "--model", model, "--host", "127.0.0.1", "--port", String(port), "--threads", "1"],
                       { stdio: ["ignore", log, log] });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "coughkit-chromium-"));
  let browser = null;
  let failed = false;
  try {
    await waitReady(base, server);
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      viewport: { width: 900, height: 900 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = await browser.newPage();
    const external = [];
    page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));

    const modelInfo = await (await fetch(base + "/v1/model")).json();
    const clip = path.join(outDir, "cough.wav");
    fs.copyFileSync(audio, clip);

    await page.goto(base + "/");
    check((await page.title()).includes("coughkit"), "the page loads");
    await page.waitForFunction(() => document.getElementById("model-threshold").textContent !== "");
    const hint = await page.textContent("#model-threshold");
    check(hint.includes(String(modelInfo.threshold)), "the page shows the model's threshold " + modelInfo.threshold + ": " + hint);
    check(await page.locator("#record").isVisible(), "the record button is shown");

    const response = page.waitForResponse((r) => r.url().endsWith("/api/detect-cough"));
    await page.setInputFiles("#file", clip);
    const res = await response;
    check(res.status() === 200, "the upload is answered 200 (got " + res.status() + ")");
    const body = await res.json();
    check(!(res.request().postData() || "").includes('name="threshold"'), "the page sends no threshold of its own");
    check(body.threshold_used === modelInfo.threshold, "the server applied the model's threshold (" + body.threshold_used + ")");
    const cli = JSON.parse(execFileSync(bin, ["--log-level", "warn", "detect", "--json", "--threads", "1", "--model", model, clip])
      .toString().trim());
    check(cli.cough_detected === body.coughDetected && cli.threshold === body.threshold_used,
          "the page's verdict equals coughkit detect's (" + cli.cough_detected + " at " + cli.threshold + ")");

    await page.waitForSelector("#result:not([hidden])", { timeout: 60000 });
    const verdict = (await page.textContent("#verdict")).trim();
    check(verdict === (body.coughDetected ? "Cough detected" : "No cough detected"), "the verdict matches the answer: " + verdict);
    const bars = await page.locator("#plot svg rect.segment").count();
    check(bars === body.num_segments && bars > 0, "the plot has one bar per segment (" + bars + ")");
    check(await page.locator("#plot svg polyline").count() === 1, "the plot has the probability line");
    const details = await page.textContent("#details");
    check(details.includes("cough.wav"), "the details name the file");

    // The long-recording view: a job's counts and timeline.
    const longClip = process.env.LONG_AUDIO;
    if (longClip) {
      const jobDone = page.waitForResponse(async (r) => {
        if (!/\/v1\/jobs\/[^/]+$/.test(r.url())) return false;
        try { return (await r.json()).state === "done"; } catch (_) { return false; }
      }, { timeout: 120000 });
      await page.setInputFiles("#long-file", longClip);
      const job = await (await jobDone).json();
      await page.waitForSelector("#long-result:not([hidden])", { timeout: 60000 });
      const summary = await page.textContent("#long-summary");
      check(summary.includes(job.report.cough_count + " cough") && summary.includes(job.report.events.length + " event"),
            "the long-recording summary gives the job's counts: " + summary);
      await page.waitForFunction(() => document.getElementById("long-plot").naturalWidth > 0);
      check(true, "the timeline image is shown");
    }

    await page.screenshot({ path: path.join(outDir, "web_page.png"), fullPage: true });
    console.log("screenshot: " + path.join(outDir, "web_page.png"));
    check(external.length === 0, "no request leaves the server (" + external.join(", ") + ")");
    check(errors.length === 0, "no script errors (" + errors.join("; ") + ")");
  } catch (e) {
    failed = true;
    console.error(e.stack || String(e));
  } finally {
    if (browser) await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
    server.kill("SIGTERM");
    const code = await new Promise((r) => (server.exitCode !== null ? r(server.exitCode) : server.on("exit", (c) => r(c))));
    if (code !== 0) {
      failed = true;
      console.error("coughkit serve exited with " + code + "; log: " + path.join(outDir, "server.log"));
    }
  }
  process.exit(failed ? 1 : 0);
})();
