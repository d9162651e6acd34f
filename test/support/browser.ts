// Chromium for the portal's browser tests: Debian's package (apt-get install chromium), driven by
// playwright-core over CDP. No browser download: CHROMIUM_PATH, or the Debian paths.
import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The browser binary, or undefined (the tests then skip and say why). */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => !!p && fs.existsSync(p));
}

export const NO_CHROMIUM_MESSAGE =
  "portal browser tests skipped: no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH); .ci/run installs it";

export async function launchChromium(executablePath: string): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
}
