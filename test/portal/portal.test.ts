// The portal in a real browser (Chromium via playwright-core) against the whole local stack:
// sign-in through /.auth, create and watch the steps, jobs with live output, stop, auto-stop in
// words, what bob and the reader see, a quota error at the size field, and axe-core.
// PORTAL_SCREENSHOTS=<dir> also writes the README's screenshots there.
import fs from "node:fs";
import path from "node:path";
import axe from "axe-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { chromiumPath, launchChromium, NO_CHROMIUM_MESSAGE } from "../support/browser";
import { startStack, type Stack } from "../support/stack";

const CHROMIUM = chromiumPath();
if (!CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);
const SHOTS = process.env.PORTAL_SCREENSHOTS;

const USERS = { alice: "Alice Andersson", bob: "Bob Berg", admin: "Ada Admin", reader: "Rita Reader" } as const;
const WAIT = 60_000;

describe.skipIf(!CHROMIUM)("portal in Chromium", () => {
  let stack: Stack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // A small D-family quota, so the quota test can use it up.
    stack = await startStack({ env: { QUOTA_VCPUS_PER_FAMILY: JSON.stringify({ standardDSv5Family: 10, standardNCASv3_T4Family: 4 }) } });
    browser = await launchChromium(CHROMIUM!);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await stack?.stop();
  });

  /** A browser session signed in as `who` through the sign-in page, as a person does it. */
  async function signedIn(who: keyof typeof USERS, options: { bypassCSP?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(stack.baseUrl + "/");
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.getByRole("button", { name: new RegExp(USERS[who]) }).click();
    await page.getByRole("heading", { name: "Compute instances" }).waitFor();
    await page.getByText(USERS[who]).first().waitFor();
    return page;
  }

  async function shot(page: Page, name: string, fullPage = false) {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  }

  /** axe-core's serious and critical violations on the page as it is (the page needs bypassCSP). */
  async function axeCheck(page: Page, what: string): Promise<void> {
    await page.addScriptTag({ content: axe.source });
    const result = (await page.evaluate(async () => {
      const r = await (window as unknown as { axe: { run: (ctx: Document, opts: unknown) => Promise<unknown> } }).axe.run(document, { resultTypes: ["violations"] });
      return r;
    })) as { violations: { id: string; impact: string | null; nodes: { target: unknown }[] }[] };
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${what}: ${v.id} (${v.impact}) at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
    expect(bad).toEqual([]);
  }

  /** For the README: pictures side by side with captions and an arrow between (portal → application). */
  async function composite(name: string, parts: { caption: string; png: Buffer }[]) {
    if (!SHOTS) return;
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const esc = (t: string) => t.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    const figures = parts.map(
      (p, i) =>
        `${i ? '<div style="align-self:center;font-size:40px;color:#0f6cbd">&rarr;</div>' : ""}<figure style="margin:0"><figcaption style="color:#424242;margin:0 0 6px">${esc(p.caption)}</figcaption><img style="display:block;border:1px solid #d1d1d1;padding:6px;background:#fff" src="data:image/png;base64,${p.png.toString("base64")}"></figure>`,
    );
    await page.setContent(`<!doctype html><body style="margin:0;padding:16px;font:14px system-ui,sans-serif;background:#fff;display:flex;gap:16px;align-items:flex-start;width:max-content">${figures.join("")}</body>`);
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.locator("body").screenshot({ path: path.join(SHOTS, `${name}.png`) });
    await page.close();
  }

  let alice: Page;

  test("alice signs in, creates an instance and watches it reach Running through the steps", async () => {
    alice = await signedIn("alice");
    await alice.getByText("No instances yet.").waitFor();
    // Latency on, so the steps can be seen running one after another.
    stack.setCloudConfig({ latencyProfile: "realistic" });
    await alice.getByRole("link", { name: "New" }).click();
    await alice.getByLabel("Name").fill("alice-ws");
    await alice.getByLabel("Standard_D2s_v5").check();
    await expect(alice.locator("tr", { hasText: "Standard_D2s_v5" }).innerText()).resolves.toMatch(/standardDSv5Family: 10 of 10 vCPUs left/);
    await alice.getByRole("button", { name: "Add schedule" }).click();
    await alice.getByLabel("Time zone").fill("Europe/Stockholm");
    await alice.getByLabel(/Cron/).fill("0 19 * * *");
    await expect(alice.locator("#schedule-0-preview").innerText()).resolves.toMatch(/^Next: (tomorrow )?19:00, .*19:00.*\(Europe\/Stockholm\)$/);
    await alice.getByLabel(/Creation script/).fill("echo hello from the portal");
    await shot(alice, "create", true);
    await alice.getByRole("button", { name: "Create" }).click();

    await alice.getByRole("heading", { name: /alice-ws/ }).waitFor();
    // A step seen running, then all four succeeded, then the state badge says Running.
    await alice.locator('.step[data-status="Running"]').first().waitFor({ timeout: WAIT });
    for (const step of ["network", "share", "vm", "setup"]) {
      await alice.locator(`.step[data-step="${step}"][data-status="Succeeded"]`).waitFor({ timeout: WAIT });
    }
    await alice.locator('h1 .badge[data-state="Running"]').waitFor({ timeout: WAIT });
    stack.setCloudConfig({ latencyProfile: "none" });
    // The creation script's output, read from the share through the API.
    await alice.getByText("Setup-script log").click();
    await expect.poll(() => alice.getByTestId("setup-log").innerText(), { timeout: WAIT }).toContain("hello from the portal");
  });

  test("a job's output appears while it runs; auto-stop is explained in words", async () => {
    await alice.getByLabel("Command").fill("for i in 1 2 3 4 5; do echo line-$i; sleep 2; done");
    await alice.getByRole("button", { name: "Submit job" }).click();
    const stdout = alice.getByTestId("stdout");
    await expect.poll(() => stdout.innerText(), { timeout: WAIT }).toContain("line-1");
    // Seen before the last line was written: the output followed the running job.
    expect(await stdout.innerText()).not.toContain("line-5");
    await expect.poll(() => alice.getByTestId("autostop").innerText(), { timeout: WAIT }).toMatch(/Not idle: .*1 job running/);
    await expect(alice.getByTestId("autostop").innerText()).resolves.toMatch(/Stops (tomorrow )?at 19:00 Europe\/Stockholm/);
    await shot(alice, "instance");
    await expect.poll(() => stdout.innerText(), { timeout: WAIT }).toContain("line-5");
    await alice.locator('.badge[data-state="Completed"]').waitFor({ timeout: WAIT });
  });

  test("the applications show their states; the terminal opens from the portal and runs a command on the VM", async () => {
    const app = (name: string) => alice.locator(`[data-app="${name}"]`);
    await alice.locator('[data-app="terminal"][data-state="Available"]').waitFor({ timeout: WAIT });
    // All four, each with its state: what this machine lacks says so instead of a link.
    for (const [name, program] of [["jupyter", "/usr/bin/jupyter-notebook"], ["jupyterlab", "/usr/bin/jupyter-lab"], ["vscode", "/usr/bin/code-server"]] as const) {
      if (fs.existsSync(program)) expect(await app(name).getAttribute("data-state"), name).toBe("Available");
      else await expect(app(name).innerText(), name).resolves.toMatch(/not installed on this machine/);
    }
    const details = SHOTS ? await alice.locator(".apps").screenshot() : undefined;
    const [terminal] = await Promise.all([alice.context().waitForEvent("page"), alice.getByRole("button", { name: "Terminal", exact: true }).click()]);
    // The ticket was exchanged for the proxy's cookie: the page is there, without the ticket in the address.
    await terminal.waitForURL(/^http:\/\/127\.[0-9.]+:\d+\/terminal\/$/, { timeout: WAIT });
    const input = terminal.getByPlaceholder("command, then Enter");
    await input.fill('cd cloudfiles/code/Users/alice && echo "six times seven is $((6*7))" && ls');
    await input.press("Enter");
    await expect.poll(() => terminal.locator("#out").innerText(), { timeout: WAIT }).toContain("six times seven is 42");
    await input.fill("python3 --version; nproc");
    await input.press("Enter");
    await expect.poll(() => terminal.locator("#out").innerText(), { timeout: WAIT }).toMatch(/Python 3/);
    // The README's picture: the instance page's applications, and the terminal page they opened.
    await terminal.setViewportSize({ width: 900, height: 300 });
    if (details) await composite("terminal", [{ caption: "The portal: alice-ws, Applications", png: details }, { caption: terminal.url(), png: await terminal.screenshot() }]);
    await terminal.close();
  });

  test("stop asks for confirmation, then the instance reaches Stopped", async () => {
    await alice.getByRole("button", { name: "Stop alice-ws" }).click();
    const dialog = alice.getByRole("dialog");
    await expect(dialog.innerText()).resolves.toContain("Running jobs are canceled");
    await dialog.getByRole("button", { name: "Stop" }).click();
    await alice.locator('h1 .badge[data-state="Stopped"]').waitFor({ timeout: WAIT });
    // Start is now the one enabled; stop says why it is not.
    expect(await alice.getByRole("button", { name: "Start alice-ws", exact: true }).isEnabled()).toBe(true);
    expect(await alice.getByRole("button", { name: "Stop alice-ws" }).getAttribute("title")).toMatch(/Cannot stop an instance that is Stopped/);
  });

  test("bob does not see alice's instance, not even by its address", async () => {
    const bob = await signedIn("bob");
    await bob.getByText("No instances yet.").waitFor();
    expect(await bob.getByText("alice-ws").count()).toBe(0);
    await bob.goto(stack.baseUrl + "/#/instances/alice-ws");
    await expect.poll(() => bob.getByRole("alert").first().innerText(), { timeout: WAIT }).toMatch(/NotFound/);
  });

  test("the reader sees every instance, and every write control is disabled with the reason", async () => {
    const reader = await signedIn("reader");
    const row = reader.locator('[data-instance="alice-ws"]');
    await row.waitFor();
    for (const action of ["Start", "Stop", "Restart", "Delete"]) {
      const button = row.getByRole("button", { name: `${action} alice-ws`, exact: true });
      expect(await button.isDisabled(), action).toBe(true);
      expect(await button.getAttribute("title"), action).toBe("Readers can see everything but change nothing.");
    }
    expect(await reader.getByRole("button", { name: "New" }).isDisabled()).toBe(true);
    await row.getByRole("link", { name: "alice-ws" }).click();
    await reader.getByRole("button", { name: "Submit job" }).waitFor();
    expect(await reader.getByRole("button", { name: "Submit job" }).isDisabled()).toBe(true);
    expect(await reader.getByLabel("Command").isDisabled()).toBe(true);
  });

  test("a quota error from the API is shown at the size field", async () => {
    await alice.goto(stack.baseUrl + "/#/create");
    await alice.getByLabel("Standard_D4s_v5").waitFor();
    // Offered when the form loaded (10 vCPUs free, alice-ws is stopped)...
    expect(await alice.getByLabel("Standard_D4s_v5").isEnabled()).toBe(true);
    // ...then someone else takes the family's quota before alice submits.
    for (const n of [1, 2]) {
      const r = await stack.api("PUT", `/api/instances/bob-big-${n}`, { as: "bob", body: { vmSize: "Standard_D4s_v5" } });
      expect(r.status, r.text).toBe(201);
    }
    await alice.getByLabel("Name").fill("alice-more");
    await alice.getByLabel("Standard_D4s_v5").check();
    await alice.getByRole("button", { name: "Create" }).click();
    const error = alice.locator("#vmSize-error");
    await expect.poll(() => error.innerText(), { timeout: WAIT }).toMatch(/quota for family standardDSv5Family would be exceeded/);
    // Tied to the size group for assistive technology; the page did not navigate away.
    expect(await alice.locator("fieldset.has-error").getAttribute("aria-describedby")).toContain("vmSize-error");
    expect(alice.url()).toMatch(/#\/create$/);
  });

  test("a size over the remaining quota is disabled with the reason", async () => {
    await alice.reload();
    const radio = alice.getByLabel("Standard_D4s_v5");
    await radio.waitFor();
    expect(await radio.isDisabled()).toBe(true);
    await expect(alice.locator("tr", { hasText: "Standard_D4s_v5" }).innerText()).resolves.toMatch(/Needs 4 vCPUs; [0-2] of 10 left in standardDSv5Family/);
  });

  test("axe-core finds no serious or critical violations on the list, the create form and the instance page", async () => {
    // The page's CSP allows only its own scripts; the checker is injected around it.
    const page = await signedIn("admin", { bypassCSP: true });
    const check = (what: string) => axeCheck(page, what);
    await page.locator('[data-instance="alice-ws"]').waitFor();
    await shot(page, "list");
    await check("list");
    await page.goto(stack.baseUrl + "/#/create");
    await page.getByLabel("Standard_D2s_v5").waitFor();
    await page.getByRole("button", { name: "Add schedule" }).click();
    await check("create");
    await page.goto(stack.baseUrl + "/#/instances/alice-ws");
    await page.getByRole("button", { name: "Submit job" }).waitFor();
    await page.locator(".step").first().waitFor();
    await check("instance");
  });

  test("a stop within the warning window shows a banner saying when and why; Postpone moves it and the banner goes", async () => {
    // A schedule that stops the instance in 8 minutes: inside the 10-minute warning window.
    const at = new Date(Date.now() + 8 * 60_000);
    const cron = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
    const hhmm = `${String(at.getUTCHours()).padStart(2, "0")}:${String(at.getUTCMinutes()).padStart(2, "0")}`;
    // An E size: the D family's quota is used up by the quota tests.
    const r = await stack.api("PUT", "/api/instances/alice-soon", { as: "alice", body: { vmSize: "Standard_E4s_v5", schedules: [{ action: "Stop", cron, timeZone: "UTC" }] } });
    expect(r.status, r.text).toBe(201);

    const page = await signedIn("alice", { bypassCSP: true });
    await page.goto(stack.baseUrl + "/#/instances/alice-soon");
    const banner = page.getByTestId("autostop-warning");
    await banner.waitFor({ timeout: WAIT });
    await expect(banner.innerText()).resolves.toMatch(new RegExp(`Stops (tomorrow )?at ${hhmm} UTC \\(in \\d+ min\\): a scheduled stop\\.`));
    expect(await banner.getAttribute("data-source")).toBe("schedule");
    await axeCheck(page, "instance with a warning");

    // The reader sees it too, and why they cannot postpone.
    const reader = await signedIn("reader");
    await reader.goto(stack.baseUrl + "/#/instances/alice-soon");
    const readerButton = reader.getByTestId("autostop-warning").getByRole("button", { name: "Postpone" });
    await readerButton.waitFor({ timeout: WAIT });
    expect(await readerButton.isDisabled()).toBe(true);
    expect(await readerButton.getAttribute("title")).toBe("Readers can see everything but change nothing.");

    // One click: the stop moves back by the idle timeout, out of the window, and the banner goes.
    await banner.getByRole("button", { name: "Postpone" }).click();
    await banner.waitFor({ state: "detached", timeout: WAIT });
    const after = await stack.api<{ autoStop?: { warning?: unknown; nextScheduledAction?: { at: string; postponed?: boolean } } }>("GET", "/api/instances/alice-soon", { as: "alice" });
    expect(after.body.autoStop?.warning).toBeUndefined();
    expect(after.body.autoStop?.nextScheduledAction).toMatchObject({ postponed: true });
    expect(Date.parse(after.body.autoStop!.nextScheduledAction!.at)).toBeGreaterThan(at.getTime());
    // The reader's page follows without a reload.
    await reader.getByTestId("autostop-warning").waitFor({ state: "detached", timeout: WAIT });
  });

  test("assets are cached for a year, the page is revalidated, and both carry a CSP", async () => {
    const page = await fetch(stack.baseUrl + "/");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const js = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(await page.text())![1]!;
    const asset = await fetch(stack.baseUrl + js);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await fetch(stack.baseUrl + "/assets/..%2Fapp.js")).status).toBe(404);
    // API paths the app does not have stay a 404.
    expect((await fetch(stack.baseUrl + "/api/nope")).status).toBe(404);
  });
});
