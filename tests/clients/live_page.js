// Watches ecsim's live page in Chromium (Debian's, driven by playwright-core) as a person
// would while a real-time run progresses, and reports what it saw.
//
// Usage: node live_page.js URL CHROMIUM
// stdout: one JSON line {"states":[…],"run":N,"updates":N,"lanesFirst":N,"rectsFirst":N,
// "rectsLast":N,"topics":[…],"lastEnvironment":{…}}; exit 1 with the reason on stderr.
"use strict";
const { chromium } = require("playwright-core");

async function main(url, executablePath) {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => Number(document.body.dataset.updates) > 0, null, { timeout: 20000 });
    const rectsFirst = await page.locator("#timeline rect").count();
    const lanesFirst = await page.locator("#environments tbody tr").count();
    const states = [];
    let run = null;
    const deadline = Date.now() + 30000;
    // Every state the environment's row shows, as the page updates, until its run is over.
    while (Date.now() < deadline) {
      const row = page.locator("#environments tbody tr").first();
      if (await row.count()) {
        const state = await row.getAttribute("data-state");
        if (states[states.length - 1] !== state) states.push(state);
        const number = await row.getAttribute("data-run");
        if (number) run = Number(number);
        if (states.includes("RUNNING") && state !== "RUNNING") break;
      }
      await page.waitForTimeout(100);
    }
    const result = await page.evaluate(() => ({
      updates: Number(document.body.dataset.updates),
      rectsLast: document.querySelectorAll("#timeline rect").length,
      topics: [...document.querySelectorAll("#topics tbody tr")].map(r => r.dataset.topic),
      lastEnvironment: JSON.parse(
        document.querySelector('#topics tr[data-topic="aliecs.environment"] pre')?.textContent ?? "null"),
    }));
    process.stdout.write(JSON.stringify({ states, run, lanesFirst, rectsFirst, ...result }) + "\n");
  } finally {
    await browser.close();
  }
}

main(process.argv[2], process.argv[3]).catch(error => {
  process.stderr.write(`live page: ${error.stack || error}\n`);
  process.exit(1);
});
