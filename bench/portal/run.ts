// Portal budget (issue 17): JavaScript shipped (gzipped), time to render a list of 500 instances
// after the data arrives, and time from navigation to a usable list. Chromium (Debian's) loads the
// built page (dist/portal/www); /.auth/me and /api/instances are answered by the browser's request
// interception with 500 synthetic instances, so the numbers are the page's, not the API's.
// Usage: npm run bench:portal [runs]
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { chromiumPath, launchChromium } from "../../test/support/browser";

const WWW = path.join(__dirname, "..", "..", "portal", "www");
const ORIGIN = "http://portal.bench";
const COUNT = 500;
const STATES = ["Running", "JobRunning", "Stopped", "Creating", "SetupFailed", "Starting"] as const;

function instances(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `ws-${String(i).padStart(4, "0")}`,
    instanceId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    state: STATES[i % STATES.length],
    vmSize: i % 5 === 0 ? "Standard_NC4as_T4_v3" : "Standard_D4s_v5",
    vCpus: 4,
    gpus: i % 5 === 0 ? 1 : 0,
    assignedUser: `user${i % 40}`,
    createdBy: `user${i % 40}`,
    createdAt: "2026-12-01T08:00:00Z",
    ssh: { publicAccess: "Disabled", adminUserName: "azureuser" },
    network: { subnetId: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s", privateIp: `10.0.${i >> 8}.${i & 255}` },
    idleShutdownMinutes: 60,
    schedules: i % 2 ? [{ action: "Stop", cron: "0 19 * * 1-5", timeZone: "Europe/Stockholm", enabled: true }] : [],
    applications: [],
    jobs: { queued: i % 3, running: i % 2, cap: 8 },
    autoStop: i % 2
      ? { idle: false, nextScheduledAction: { action: "Stop", at: "2026-12-01T18:00:00.000Z" }, notIdleBecause: ["1 job running"] }
      : { idle: false, notIdleBecause: ["idle shutdown is off"] },
    tags: {},
  }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const runs = Number(process.argv[2] ?? 5);
  const exe = chromiumPath();
  if (!exe) throw new Error("no Chromium (apt-get install -y chromium, or CHROMIUM_PATH)");
  const assets = fs.readdirSync(path.join(WWW, "assets"));
  const size = (ext: string) => {
    const buf = Buffer.concat(assets.filter((f) => f.endsWith(ext)).map((f) => fs.readFileSync(path.join(WWW, "assets", f))));
    return { raw: buf.length, gzip: zlib.gzipSync(buf, { level: 9 }).length };
  };
  const js = size(".js");
  const css = size(".css");
  const body = JSON.stringify({ value: instances(COUNT) });
  const me = JSON.stringify([{ provider_name: "aad", user_id: "admin", user_claims: [{ typ: "name", val: "Ada Admin" }, { typ: "roles", val: "admin" }] }]);

  const browser = await launchChromium(exe);
  const render: number[] = [];
  const usable: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      await context.route(`${ORIGIN}/**`, async (route) => {
        const url = new URL(route.request().url());
        if (url.pathname === "/.auth/me") return route.fulfill({ status: 200, contentType: "application/json", body: me });
        if (url.pathname === "/api/instances") return route.fulfill({ status: 200, contentType: "application/json", body });
        const file = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
        const type = file.endsWith(".js") ? "text/javascript" : file.endsWith(".css") ? "text/css" : "text/html";
        return route.fulfill({ status: 200, contentType: type, body: fs.readFileSync(path.join(WWW, file)) });
      });
      // t0: the list's response has been read (the data arrived); t1: the next frame after 500 rows are in the DOM.
      await context.addInitScript(`(() => {
        const f = window.fetch;
        window.fetch = async (...args) => {
          const res = await f(...args);
          const url = String(args[0] && args[0].url || args[0]);
          if (url.includes("/api/instances")) {
            const json = res.json.bind(res);
            res.json = async () => { const v = await json(); window.__t0 = performance.now(); return v; };
          }
          return res;
        };
        new MutationObserver((_, obs) => {
          if (document.querySelectorAll("[role=row][data-instance]").length >= ${COUNT}) {
            obs.disconnect();
            requestAnimationFrame(() => setTimeout(() => { window.__t1 = performance.now(); }, 0));
          }
        }).observe(document, { childList: true, subtree: true });
      })()`);
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send("Performance.enable");
      await page.goto(`${ORIGIN}/`);
      await page.waitForFunction("window.__t1 !== undefined", undefined, { timeout: 30_000 });
      const t = (await page.evaluate("({ t0: window.__t0, t1: window.__t1 })")) as { t0: number; t1: number };
      render.push(t.t1 - t.t0);
      if (process.env.BENCH_METRICS) {
        const m = (await cdp.send("Performance.getMetrics")) as { metrics: { name: string; value: number }[] };
        const pick = (n: string) => Math.round((m.metrics.find((x) => x.name === n)?.value ?? 0) * 1000);
        console.error(`script ${pick("ScriptDuration")} ms, layout ${pick("LayoutDuration")} ms, style ${pick("RecalcStyleDuration")} ms, task ${pick("TaskDuration")} ms`);
      }
      usable.push(t.t1);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const out = {
    js: `${(js.raw / 1024).toFixed(1)} KB raw, ${(js.gzip / 1024).toFixed(1)} KB gzipped`,
    css: `${(css.raw / 1024).toFixed(1)} KB raw, ${(css.gzip / 1024).toFixed(1)} KB gzipped`,
    [`render ${COUNT} instances after data (ms)`]: { median: Math.round(median(render)), all: render.map(Math.round) },
    [`navigation → list of ${COUNT} usable (ms)`]: { median: Math.round(median(usable)), all: usable.map(Math.round) },
  };
  console.log(JSON.stringify(out, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
