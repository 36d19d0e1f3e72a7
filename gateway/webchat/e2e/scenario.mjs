// Browser test of the web widget, in real headless Chromium (Debian's
// package) driven by playwright-core. gateway/browser_test.go starts the
// real gateway and runs this with:
//   BASE_URL   the gateway, e.g. http://127.0.0.1:41234
//   USER_ID, USER_HASH   a person and the user_hash the customer's backend would compute
//   API_TOKEN  the gateway's /v1 token, to send rich replies as a backend would
//   ARTIFACTS  where screenshots go
//   CHROMIUM   the browser binary (default /usr/bin/chromium)
// Scenario: chat anonymously on the demo page, reload and keep the visitor,
// identify with a valid hash, open a second browser context as the same
// person and see the history, see a message from one device arrive live on
// the other, log out and see an empty chat.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const base = process.env.BASE_URL;
const userId = process.env.USER_ID;
const userHash = process.env.USER_HASH;
const out = process.env.ARTIFACTS || 'artifacts';
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
const apiToken = process.env.API_TOKEN;
// Images of the rich reply come from a host that does not exist: the
// browser's requests to it are answered here (the machine has no network).
const png = {
  'blue.png': Buffer.from('iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAIAAADRv8uKAAAAK0lEQVR42u3NMQ0AAAgDsAlDIhIRgww4mvRvqudExGKxWCwWi8VisVj8N15zSLEqLGU2ygAAAABJRU5ErkJggg==', 'base64'),
  'orange.png': Buffer.from('iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAIAAADRv8uKAAAAK0lEQVR42u3NMQ0AAAgDsMlBIorRgQw4mvRvputExGKxWCwWi8VisVj8N16fdySKjKhQcwAAAABJRU5ErkJggg==', 'base64'),
};
if (!base || !userId || !userHash) throw new Error('BASE_URL, USER_ID and USER_HASH are required');
fs.mkdirSync(out, { recursive: true });

const T = 20000;
const errors = [];
let step = 'launch';
function log(msg) { console.log(`[browser] ${msg}`); }

const browser = await chromium.launch({
  executablePath: exe,
  headless: true,
  // Playwright adds its own fresh --user-data-dir per context.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

async function openDemo(ctx, name) {
  const page = await ctx.newPage();
  await page.route('https://img.example/**', (r) => r.fulfill({ contentType: 'image/png', body: png[r.request().url().split('/').pop()] || png['blue.png'] }));
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => errors.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon/.test(m.location().url || '')) errors.push(`${name}: console: ${m.text()}`); });
  await page.goto(base + '/web/demo');
  await page.waitForSelector('#who[data-visitor]');
  return page;
}

async function say(page, text) {
  await page.fill('.sbw-form input', text);
  await page.press('.sbw-form input', 'Enter');
  await page.waitForSelector(`.sbw-bot:has-text("echo: ${text}")`);
}

async function identify(page) {
  await page.fill('#uid', userId);
  await page.fill('#uhash', userHash);
  await page.click('#identify-btn');
  await page.waitForSelector(`#who[data-provided="${userId}"]`);
}

async function shot(page, name) {
  const file = path.join(out, name);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

function check(cond, msg) { if (!cond) throw new Error(`${step}: ${msg}`); }

try {
  step = 'anonymous chat';
  const ctxA = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const a = await openDemo(ctxA, 'A');
  check((await a.textContent('#who')).startsWith('anonymous'), 'not anonymous at first');
  const anonVisitor = await a.getAttribute('#who', 'data-visitor');
  check(/^wv_[a-z2-7]{26}$/.test(anonVisitor), `visitor id ${anonVisitor}`);
  await say(a, 'hello from the browser');
  await a.click('.sbw-qr button:has-text("Red")');
  await a.waitForSelector('.sbw-bot:has-text("you picked RED")');
  await shot(a, '01-anonymous.png');

  step = 'reload keeps the anonymous visitor';
  const stored = await a.evaluate(() => JSON.parse(localStorage.getItem('switchboard:site')));
  check(stored && stored.visitor_id === anonVisitor && stored.token, 'visitor not kept in localStorage');
  await a.reload();
  await a.waitForSelector('#who[data-visitor]');
  check(await a.getAttribute('#who', 'data-visitor') === anonVisitor, 'reload changed the visitor');
  await a.waitForSelector('.sbw-bot:has-text("echo: hello from the browser")');

  step = 'a second tab of the same browser';
  const a2 = await openDemo(ctxA, 'A2');
  check(await a2.getAttribute('#who', 'data-visitor') === anonVisitor, 'second tab is another visitor');
  await say(a, 'two tabs');
  await a2.waitForSelector('.sbw-bot:has-text("echo: two tabs")');
  for (const p of [a, a2]) {
    const n = await p.$$eval('.sbw-bot', (els) => els.filter((e) => e.textContent === 'echo: two tabs').length);
    check(n === 1, `a tab shows the reply ${n} times`);
  }

  step = 'identify with a valid hash';
  await identify(a);
  const personVisitor = await a.getAttribute('#who', 'data-visitor');
  check(personVisitor !== anonVisitor, 'identified visitor is the anonymous one');
  // The anonymous conversation was merged into the person's.
  await a.waitForSelector('.sbw-bot:has-text("echo: hello from the browser")');
  await say(a, 'now identified');
  await shot(a, '02-identified.png');
  // The other tab follows (its anonymous token was revoked; it picks up
  // the new one from localStorage).
  await a2.waitForSelector(`#who[data-provided="${userId}"]`);
  await a2.waitForSelector('.sbw-bot:has-text("echo: now identified")');
  await a2.close();

  step = 'second browser context as the same person';
  const ctxB = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const b = await openDemo(ctxB, 'B');
  check(await b.getAttribute('#who', 'data-visitor') !== anonVisitor, 'second context shares the anonymous visitor');
  check((await b.$$('.sbw-item')).length === 0, 'a fresh context shows a chat before identifying');
  await identify(b);
  check(await b.getAttribute('#who', 'data-visitor') === personVisitor, 'second device is another person');
  await b.waitForSelector('.sbw-visitor:has-text("hello from the browser")');
  await b.waitForSelector('.sbw-bot:has-text("echo: now identified")');
  await shot(b, '03-second-device-history.png');

  step = 'rich replies: buttons, cards, images';
  if (apiToken) {
    const res = await fetch(base + '/v1/messages', {
      method: 'POST', headers: { Authorization: 'Bearer ' + apiToken, 'Content-Type': 'application/json' },
      body: JSON.stringify({ response_path: `demo-site/c/${userId}`, messages: [
        { text: 'Here is what we have:', buttons: [{ title: 'Pick A', payload: 'PICK_A' }, { title: 'Docs', payload: 'https://img.example/docs' }] },
        { cards: [
          { title: 'Blue shoe', subtitle: '42 EUR', image_url: 'https://img.example/blue.png', buttons: [{ title: 'Buy blue', payload: 'BUY_BLUE' }] },
          { title: 'Orange hat', subtitle: '19 EUR', image_url: 'https://img.example/orange.png', buttons: [{ title: 'Buy hat', payload: 'BUY_HAT' }] }] },
        { text: 'and a picture', attachment: { type: 'image', url: 'https://img.example/orange.png' } },
      ] }),
    });
    check(res.ok, `POST /v1/messages: ${res.status} ${await res.text()}`);
    for (const p of [a, b]) {
      await p.waitForSelector('.sbw-card:has-text("Orange hat")');
      await p.waitForSelector('.sbw-img');
      await p.waitForFunction(() => [...document.querySelectorAll('.sbw-card img, .sbw-img')].every((i) => i.complete && i.naturalWidth > 0));
      check(await p.getAttribute('.sbw-btns a:has-text("Docs")', 'href') === 'https://img.example/docs', 'url button is not a link');
    }
    await b.click('.sbw-card button:has-text("Buy hat")');
    await a.waitForSelector('.sbw-bot:has-text("you picked BUY_HAT")');
    await b.waitForSelector('.sbw-bot:has-text("you picked BUY_HAT")');
    await shot(b, '03b-rich-replies.png');
  }

  step = 'live on both devices';
  await say(b, 'from the second device');
  await a.waitForSelector('.sbw-bot:has-text("echo: from the second device")');
  const seqs = await a.$$eval('.sbw-item', (els) => els.map((e) => +e.getAttribute('data-seq')));
  check(new Set(seqs).size === seqs.length, `a frame shown twice: ${seqs}`);
  check(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `frames out of order: ${seqs}`);

  step = 'log out';
  await a.click('#logout-btn');
  await a.waitForSelector('#who[data-provided=""]');
  await a.waitForFunction(() => document.querySelectorAll('.sbw-item').length === 0);
  const fresh = await a.getAttribute('#who', 'data-visitor');
  check(fresh !== personVisitor && fresh !== anonVisitor, 'logout did not start a fresh visitor');
  await shot(a, '04-logged-out-empty.png');
  await a.reload();
  await a.waitForSelector('#who[data-visitor]');
  check(await a.getAttribute('#who', 'data-visitor') === fresh, 'reload after logout changed the visitor');
  await a.waitForTimeout(500);
  check((await a.$$('.sbw-item')).length === 0, 'chat not empty after logout and reload');
  // The person's history stays with the person.
  await b.waitForSelector('.sbw-bot:has-text("echo: from the second device")');
  await shot(b, '05-second-device-after-logout.png');

  check(errors.length === 0, `browser errors:\n${errors.join('\n')}`);
  log('PASS');
  await browser.close();
} catch (e) {
  console.error(`[browser] FAIL at ${step}: ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  for (const ctx of browser.contexts()) {
    for (const [i, p] of ctx.pages().entries()) {
      try { await p.screenshot({ path: path.join(out, `failure-${step.replace(/\W+/g, '-')}-${i}.png`), fullPage: true }); } catch { }
    }
  }
  await browser.close();
  process.exit(1);
}
