// The dashboard's browser test: Debian's chromium driven by playwright-core
// against a running Gatescope filled with simulated traffic (web/e2e_test.go
// starts both). Every number checked on a page is checked against the API's
// own answer, fetched here with the admin token. Screenshots of every page
// go to GATESCOPE_SCREENSHOTS. Exits non-zero on the first failed check.
//
// Environment: GATESCOPE_URL, GATESCOPE_TOKEN, GATESCOPE_APP (an app with
// data), GATESCOPE_SCREENSHOTS (a folder), CHROMIUM (default
// /usr/bin/chromium), GATESCOPE_README_SCREENSHOT (optional: where to put the
// README's overview picture).

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BASE = need('GATESCOPE_URL');
const TOKEN = need('GATESCOPE_TOKEN');
const APP = need('GATESCOPE_APP');
const SHOTS = need('GATESCOPE_SCREENSHOTS');
const README_SHOT = process.env.GATESCOPE_README_SCREENSHOT || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`dashboard e2e: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

// ---- checks and the API ----

let passed = 0;
function check(cond, what, detail = '') {
  if (!cond) throw new Error(`check failed: ${what}${detail ? ' — ' + detail : ''}`);
  passed++;
  console.log(`  ok  ${what}`);
}

async function api(path, params = {}, init = {}) {
  const u = new URL(path, BASE);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
  const resp = await fetch(u, { ...init, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...(init.headers || {}) } });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`API ${init.method || 'GET'} ${u.pathname}${u.search}: ${resp.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}
const apiPost = (path, body) => api(path, {}, { method: 'POST', body: JSON.stringify(body) });

// Independent formatting of what the page must show.
const thousands = (n) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
/** The first number in a text: "1,234" → 1234, "−3.5%" → -3.5, "1.53 s" → 1.53. */
function num(text) {
  const m = /([+\-−]?)\s*([\d,]*\.?\d+)/.exec(text.replace(/\u00a0/g, ' '));
  if (!m) return NaN;
  const v = Number(m[2].replace(/,/g, ''));
  return m[1] === '-' || m[1] === '−' ? -v : v;
}
/** A latency text in ms: "467 ms" → 467, "1.53 s" → 1530. */
function ms(text) {
  const v = num(text);
  if (/\bmin\b/.test(text)) return v * 60000;
  if (/\d\s*s\b/.test(text.replace(/\u00a0/g, ' '))) return v * 1000;
  return v;
}
const close = (a, b, tol) => Math.abs(a - b) <= tol;
const iso = (t) => new Date(t).toISOString();

// ---- the browser ----

const profile = mkdtempSync(join(tmpdir(), 'gatescope-e2e-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
  timeout: 60_000,
});
ctx.setDefaultTimeout(30_000);
const page = ctx.pages()[0] ?? (await ctx.newPage());
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
// The server's Content-Security-Policy must not block anything the app does.
page.on('console', (m) => {
  if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
});

const shotList = [];
async function shot(name, opts = {}) {
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: opts.full ?? true, animations: 'disabled' });
  shotList.push(path);
}

/** Waits for a page's content: no loading state, no refresh in flight. */
async function settled(testid) {
  await page.waitForSelector(`[data-testid=${testid}]`);
  await page.waitForFunction(() => !document.querySelector('.state-loading') && !document.querySelector('.refreshing'));
}
const go = async (path, testid) => {
  await page.goto(BASE + path);
  await settled(testid);
};
/** Waits until the event table lists exactly these request ids, in order. */
async function tableIs(events) {
  const want = events.map((e) => e.request_id).join();
  await page.waitForFunction((w) => [...document.querySelectorAll('[data-testid=event-table] tbody tr')].map((r) => r.getAttribute('data-request-id')).join() === w, want);
}
const text = async (sel) => ((await page.locator(sel).first().textContent()) ?? '').trim();
const attr = (sel, name) => page.locator(sel).first().getAttribute(name);

async function step(name, fn) {
  console.log(`- ${name}`);
  try {
    await fn();
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, `FAILED-${name.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => {});
    throw e;
  }
}

// ---- the steps ----

const now = Date.now();
// Absolute ranges make the page and the API answer over the same instants.
const last3d = { from: iso(now - 3 * 86400e3), to: iso(now + 60e3) };
const week = { from: iso(now - 8 * 86400e3), to: iso(now + 60e3) };
const appDoc = await api(`/api/v1/apps/${APP}`);

try {
  await step('log in', async () => {
    await page.goto(BASE + '/');
    await page.waitForSelector('[data-testid=login]');
    await shot('login', { full: false });
    await page.fill('input[name=token]', 'gsa_not-the-token-at-all');
    await page.click('button[type=submit]');
    await page.waitForSelector('[role=alert]');
    check((await text('[role=alert]')).includes('not the admin token'), 'a wrong token is refused');
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    await settled('page-overview');
    const cookie = (await ctx.cookies(BASE)).find((c) => c.name === 'gatescope_session');
    check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict');
    check(cookie.value !== TOKEN && !cookie.value.includes(TOKEN), 'the cookie holds a session id, not the token');
    check(!(await page.evaluate(() => document.cookie)).includes('gatescope_session'), 'scripts cannot read the session cookie');
  });

  await step('overview', async () => {
    await go(`/?app=${APP}`, 'tile-count');
    const from = await attr('[data-testid=page-overview]', 'data-from');
    const to = await attr('[data-testid=page-overview]', 'data-to');
    const metrics = 'count,unique_users,error_rate,latency_p95,rejected_at_gateway';
    const cur = (await api('/api/v1/metrics/segmentation', { app_id: APP, from, to, metrics })).rows[0];
    const len = Date.parse(to) - Date.parse(from);
    const prev = (await api('/api/v1/metrics/segmentation', { app_id: APP, from: iso(Date.parse(from) - len), to: from, metrics })).rows[0];
    check(cur.count > 0, `the API has requests in the last 24 h (${cur.count})`);
    const tile = (m) => text(`[data-testid=tile-${m}] .tile-value`);
    check((await tile('count')) === thousands(cur.count), `requests tile shows ${thousands(cur.count)}`, await tile('count'));
    check((await tile('unique_users')) === thousands(cur.unique_users), `unique users tile shows ${thousands(cur.unique_users)}`, await tile('unique_users'));
    check((await tile('rejected_at_gateway')) === thousands(cur.rejected_at_gateway), `rejected-at-gateway tile shows ${thousands(cur.rejected_at_gateway)}`);
    check(close(num(await tile('error_rate')), cur.error_rate * 100, 0.051), `error rate tile ≈ ${(cur.error_rate * 100).toFixed(3)}%`, await tile('error_rate'));
    check(close(ms(await tile('latency_p95')), cur.latency_p95, Math.max(0.51, cur.latency_p95 * 0.005)), `p95 tile ≈ ${cur.latency_p95} ms`, await tile('latency_p95'));
    // The change against the previous period, computed here.
    const change = await text('[data-testid=change-count]');
    const want = ((cur.count - prev.count) / prev.count) * 100;
    check(prev.count > 0 && close(num(change), want, Math.abs(want) >= 10 ? 0.51 : 0.051), `requests change ≈ ${want.toFixed(2)}%`, change);
    // The chart and the tables.
    check((await page.locator('[data-testid=chart-status] canvas').count()) > 0, 'the requests-by-status chart is drawn');
    const legend = await text('[data-testid=chart-status] .u-legend');
    check(legend.includes('2xx') && legend.includes('4xx'), 'the chart has a series per status class', legend);
    const top = (await api('/api/v1/metrics/segmentation', { app_id: APP, from, to, group_by: 'method,route', metrics: 'count,error_rate,latency_p95', sort: '-count', limit: 8 })).rows;
    const firstRow = await text('[data-testid=top-routes] tr');
    check(firstRow.includes(top[0].route) && firstRow.includes(thousands(top[0].count)), `top route is ${top[0].method} ${top[0].route} with ${thousands(top[0].count)}`, firstRow);
    const slow = (await api('/api/v1/metrics/segmentation', { app_id: APP, from, to, group_by: 'method,route', metrics: 'latency_p95,count', sort: '-latency_p95', limit: 8 })).rows;
    check((await text('[data-testid=slow-routes] tr')).includes(slow[0].route), `slowest route is ${slow[0].route}`);
    check((await page.locator('[data-testid=top-users] tr').count()) > 0, 'top users are listed');
    await shot('overview');
    if (README_SHOT) await page.screenshot({ path: README_SHOT, fullPage: false });
  });

  let firstEventId = '';
  await step('event log', async () => {
    await go(`/events?app=${APP}`, 'event-table');
    const ids = () => page.$$eval('[data-testid=event-table] tbody tr', (rs) => rs.map((r) => r.getAttribute('data-request-id')));
    const want = (await api('/api/v1/events', { app_id: APP, limit: 100 })).events.map((e) => e.request_id);
    const got = await ids();
    check(got.length === want.length && got.slice(0, 20).join() === want.slice(0, 20).join(), `the log lists the API's newest ${want.length} events, newest first`);
    firstEventId = got[0];
    await shot('events');
    // Older pages come from the API's cursor.
    const page1 = await api('/api/v1/events', { app_id: APP, limit: 100 });
    const page2 = await api('/api/v1/events', { app_id: APP, limit: 100, cursor: page1.next_cursor });
    await page.click('[data-testid=load-older]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=event-table] tbody tr').length === n, 100 + page2.events.length);
    check((await ids())[100] === page2.events[0].request_id, `"Load older events" appends the API's next page (${page2.events.length} more)`);

    // A status class.
    await page.click('[data-testid=status-class] button:text-is("4xx")');
    await page.waitForURL(/status=4xx/);
    const want4 = (await api('/api/v1/events', { app_id: APP, status: '4xx', limit: 100 })).events;
    await tableIs(want4);
    const badges = await page.$$eval('[data-testid=event-table] tbody tr td:nth-child(2) .badge:first-child', (bs) => bs.map((b) => b.textContent));
    check(badges.length === want4.length && badges.every((b) => /^4\d\d$/.test(b)), `the 4xx filter shows ${want4.length} rows, all 4xx`);
    check((await ids())[0] !== firstEventId || want4[0].request_id === firstEventId, 'the table changed with the filter');

    // A field filter: method = POST, on top of 4xx.
    await page.click('[data-testid=event-filters-add]');
    await page.selectOption('[data-testid=event-filters-field-0]', 'method');
    await page.selectOption('[data-testid=event-filters-op-0]', 'eq');
    await page.fill('[data-testid=event-filters-value-0]', 'POST');
    await page.waitForURL(/f\.method=eq%3APOST/);
    const wantPost = (await api('/api/v1/events', { app_id: APP, status: '4xx', filter: JSON.stringify({ field: 'method', op: 'eq', value: 'POST' }), limit: 100 })).events;
    await tableIs(wantPost);
    const methods = await page.$$eval('[data-testid=event-table] tbody tr td:nth-child(3)', (ts) => ts.map((t) => t.textContent));
    check(methods.length === wantPost.length && methods.every((m) => m === 'POST'), `method = POST and 4xx: ${wantPost.length} rows, all POST`);
    await shot('events-filtered');

    // Free text on path and user, alone.
    await go(`/events?app=${APP}`, 'event-table');
    const user = want4.find((e) => e.user_id)?.user_id ?? '';
    const term = user.slice(-8);
    await page.fill('[data-testid=event-search]', term);
    await page.waitForFunction((t) => new URL(location.href).searchParams.get('q') === t, term);
    const wantQ = (await api('/api/v1/events', { app_id: APP, limit: 100, filter: JSON.stringify({ or: [{ field: 'path', op: 'contains', value: term }, { field: 'user_id', op: 'contains', value: term }] }) })).events;
    await tableIs(wantQ);
    check(true, `searching "${term}" shows the API's ${wantQ.length} matches`);

    // The detail drawer.
    const ev = await api(`/api/v1/events/${encodeURIComponent(wantQ[0].request_id)}`, { app_id: APP });
    await page.click(`[data-testid=event-table] tbody tr[data-request-id="${ev.request_id}"]`);
    await page.waitForSelector('[data-testid=event-detail]');
    const field = (k) => text(`[data-testid=event-detail] [data-field=${k}] dd`);
    check((await field('request_id')) === ev.request_id, 'the drawer shows the event');
    check((await field('user_id')) === (ev.user_id ?? '–') && (await field('path')) === (ev.path ?? '–') && (await field('route')) === (ev.route ?? '–'), 'user, path and route match the API');
    check((await field('status')) === String(ev.status), `status ${ev.status}`);
    const nFields = await page.locator('[data-testid=event-detail] > dl.kv > div').count();
    check(nFields >= Object.keys(ev).length - 1, `every field is shown (${nFields})`);
    const metaKeys = Object.keys(ev.metadata ?? {});
    if (metaKeys.length) {
      const shown = await page.$$eval('[data-testid=event-metadata] dt', (ds) => ds.map((d) => d.textContent));
      check(metaKeys.every((k) => shown.includes(k)), `the metadata (${metaKeys.join(', ')}) is shown`);
    }
    await shot('event-drawer', { full: false });
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=drawer]', { state: 'detached' });
  });

  await step('live tail: pause and resume', async () => {
    await go(`/events?app=${APP}`, 'event-table');
    await page.waitForSelector('[data-testid=live-toggle][data-state=live]');
    const send = async (id) => {
      const t = new Date();
      const p2 = (n) => String(n).padStart(2, '0');
      const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][t.getUTCMonth()];
      const line = {
        requestId: id,
        requestTimeEpoch: String(t.getTime()),
        requestTime: `${p2(t.getUTCDate())}/${mon}/${t.getUTCFullYear()}:${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())} +0000`,
        httpMethod: 'GET',
        resourcePath: '/e2e/live',
        status: '200',
        durationMs: '12',
        responseLength: '10',
        protocol: 'HTTP/1.1',
        ip: '203.0.113.5',
        apiId: 'e2e0000001',
        user: 'e2e-live-user',
      };
      const body = { requestId: 'e2e-' + id, timestamp: t.getTime(), records: [{ data: Buffer.from(JSON.stringify(line)).toString('base64') }] };
      const r = await fetch(new URL('/v1/firehose', BASE), {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', 'X-Amz-Firehose-Protocol-Version': '1.0', 'X-Amz-Firehose-Request-Id': 'e2e-' + id, 'X-Amz-Firehose-Access-Key': appDoc.application_id },
      });
      check(r.ok, `Firehose took event ${id}`, String(r.status));
    };
    const row = (id) => page.locator(`[data-testid=event-table] tbody tr[data-request-id="${id}"]`);
    const live1 = `e2e-live-${now}-1`;
    await send(live1);
    await row(live1).waitFor({ timeout: 20_000 });
    check((await page.$$eval('[data-testid=event-table] tbody tr', (rs) => rs[0].getAttribute('data-request-id'))) === live1, 'a new event appears at the top while live');
    await page.click('[data-testid=live-toggle]');
    await page.waitForSelector('[data-testid=live-toggle][data-state=paused]');
    const live2 = `e2e-live-${now}-2`;
    await send(live2);
    // The tail polls every second: 5 s is ample for it to have arrived.
    await page.waitForTimeout(5000);
    check((await row(live2).count()) === 0, 'while paused, new events do not appear');
    await page.click('[data-testid=live-toggle]');
    await row(live2).waitFor({ timeout: 20_000 });
    await page.waitForSelector('[data-testid=live-toggle][data-state=live]');
    check(true, 'resuming shows what arrived while paused and goes live again');
    await shot('events-live', { full: false });
  });

  await step('explorer', async () => {
    const q = new URLSearchParams({ app: APP, view: 'segmentation', m: 'count,error_rate', g: 'route', ...last3d });
    await go(`/explorer?${q}`, 'segmentation-table');
    const rows = (await api('/api/v1/metrics/segmentation', { app_id: APP, group_by: 'route', metrics: 'count,error_rate', ...last3d })).rows;
    const cells = await page.$$eval('[data-testid=segmentation-table] tbody tr', (rs) => rs.map((r) => [r.cells[0].textContent, r.querySelector('[data-metric=count]')?.getAttribute('data-value')]));
    const byRoute = new Map(rows.map((r) => [r.route ?? '(none)', r.count]));
    check(cells.length === rows.length && cells.every(([route, c]) => byRoute.get(route) === Number(c)), `segmentation by route matches the API's ${rows.length} rows`);
    await shot('explorer-segmentation');

    // Switch to a time series grouped by status class, in the page.
    await page.click('[data-testid=view-timeseries]');
    await page.selectOption('[data-testid=group-by-0]', 'status_class');
    await page.waitForURL(/g=status_class/);
    check(!page.url().includes('view=segmentation'), 'the view is in the URL');
    await settled('series-table');
    const ts = await api('/api/v1/metrics/timeseries', { app_id: APP, metric: 'count', group_by: 'status_class', interval: 'auto', ...last3d });
    const sums = Object.fromEntries(ts.series.map((s) => [s.other ? 'other' : s.group ?? '(none)', s.points.reduce((a, p) => a + (p.v ?? 0), 0)]));
    const table = await page.$$eval('[data-testid=series-table] tbody tr', (rs) => rs.map((r) => [r.cells[0].textContent.trim(), r.cells[1].textContent.trim()]));
    check(table.length === ts.series.length && table.every(([g, v]) => v === new Intl.NumberFormat('en-US').format(sums[g])), `series totals per status class match the API (${table.map((r) => r.join(' ')).join(', ')})`);
    check((await page.locator('[data-testid=explorer-chart] canvas').count()) > 0, 'the time series is drawn');
    // The URL alone restores the view.
    await page.reload();
    await settled('series-table');
    check((await page.inputValue('[data-testid=group-by-0]')) === 'status_class', 'reloading the URL restores the group-by');
    await shot('explorer-timeseries');
  });

  await step('users', async () => {
    await go(`/users?app=${APP}`, 'page-users-table');
    const all = await api('/api/v1/users', { app_id: APP, limit: 50 });
    check(Number(await attr('[data-testid=list-total]', 'data-total')) === all.total, `${all.total} users, as the API says`);
    const names = await page.$$eval('[data-testid=page-users-table] tbody tr td:first-child', (ts) => ts.map((t) => t.textContent));
    check(names.length === all.users.length && names.every((n) => all.users.some((u) => u.user_id === n)), 'the list is the API page');
    await page.click('[data-testid=sort-requests]');
    await page.waitForURL(/sort=requests/);
    await settled('page-users-table');
    const byReq = await api('/api/v1/users', { app_id: APP, sort: 'requests', limit: 50 });
    const firstReq = await text('[data-testid=page-users-table] tbody tr td:nth-child(3)');
    check(firstReq === thousands(byReq.users[0].requests), `sorted by requests, the first has ${thousands(byReq.users[0].requests)}`, firstReq);
    const term = byReq.users[0].user_id.slice(0, 6);
    await page.fill('[data-testid=list-search]', term);
    await page.waitForURL(/q=/);
    await settled('page-users-table');
    const found = await api('/api/v1/users', { app_id: APP, sort: 'requests', q: term, limit: 50 });
    check(Number(await attr('[data-testid=list-total]', 'data-total')) === found.total, `searching "${term}" finds ${found.total}, as the API`);
    await shot('users');

    const id = byReq.users[0].user_id;
    await go(`/users/${encodeURIComponent(id)}?${new URLSearchParams({ app: APP, ...week })}`, 'profile-events');
    const p = await api(`/api/v1/users/${encodeURIComponent(id)}`, { app_id: APP, ...week });
    check(Number(await attr('[data-testid=tile-requests]', 'data-value')) === p.totals.requests, `the profile shows ${p.totals.requests} requests`);
    check((await text('[data-testid=tile-requests] .tile-value')) === thousands(p.totals.requests), 'formatted with separators');
    check(Number(await attr('[data-testid=tile-errors_4xx]', 'data-value')) === p.totals.errors_4xx, `and ${p.totals.errors_4xx} 4xx errors`);
    check((await page.locator('[data-testid=profile-routes] tbody tr').count()) === p.top_routes.length, `${p.top_routes.length} top routes`);
    check((await page.locator('[data-testid=profile-events] tbody tr').count()) === p.recent_events.length, `${p.recent_events.length} recent events`);
    check((await page.locator('[data-testid=profile-chart] canvas').count()) > 0, 'the activity chart is drawn');
    await shot('user-profile');
  });

  await step('companies', async () => {
    await go(`/companies?app=${APP}`, 'page-companies-table');
    const all = await api('/api/v1/companies', { app_id: APP, sort: 'requests', limit: 50 });
    check(Number(await attr('[data-testid=list-total]', 'data-total')) === all.total, `${all.total} companies, as the API says`);
    await shot('companies');
    const id = all.companies[0].company_id;
    await go(`/companies/${encodeURIComponent(id)}?${new URLSearchParams({ app: APP, ...week })}`, 'profile-events');
    const p = await api(`/api/v1/companies/${encodeURIComponent(id)}`, { app_id: APP, ...week });
    check(Number(await attr('[data-testid=tile-requests]', 'data-value')) === p.totals.requests, `the company profile shows ${p.totals.requests} requests`);
    check((await page.locator('[data-testid=company-users] tbody tr').count()) === p.users.length, `and its ${p.users.length} users`);
    await shot('company-profile');
  });

  await step('funnel', async () => {
    await go(`/funnels?app=${APP}`, 'funnel-builder');
    await page.fill('[data-testid=step-0-filters-value-0]', '/signup');
    await page.fill('[data-testid=step-1-filters-value-0]', '/orders');
    await page.click('[data-testid=step-1-filters-add]');
    await page.selectOption('[data-testid=step-1-filters-field-1]', 'method');
    await page.fill('[data-testid=step-1-filters-value-1]', 'POST');
    await page.click('[data-testid=run-funnel]');
    await page.waitForSelector('[data-testid=funnel-chart]');
    const want = await apiPost('/api/v1/funnels', {
      app_id: APP,
      from: '-30d',
      window: '7d',
      steps: [
        { name: 'a', filter: { field: 'route', op: 'eq', value: '/signup' } },
        { name: 'b', filter: { and: [{ field: 'route', op: 'eq', value: '/orders' }, { field: 'method', op: 'eq', value: 'POST' }] } },
      ],
    });
    const got = await page.$$eval('[data-testid^=funnel-result-]', (ss) => ss.map((s) => Number(s.getAttribute('data-users'))));
    check(want.steps[0].users > 0, `users signed up (${want.steps[0].users})`);
    check(got.join() === want.steps.map((s) => s.users).join(), `the two-step funnel shows ${got.join(' → ')} users, as the API`);
    check(page.url().includes('def='), 'the funnel definition is in the URL');
    await shot('funnel');
  });

  await step('retention', async () => {
    await go(`/retention?app=${APP}&period=day&from=-14d`, 'retention-heatmap');
    const want = await apiPost('/api/v1/retention', { app_id: APP, period: 'day', from: '-14d', tz: 'UTC' });
    const got = await page.$$eval('[data-testid=retention-heatmap] tbody tr', (rs) => rs.map((r) => Number(r.getAttribute('data-users'))));
    check(got.length === want.cohorts.length && got.join() === want.cohorts.map((c) => c.users).join(), `${got.length} daily cohorts with the API's sizes`);
    await shot('retention');
  });

  await step('set-up', async () => {
    await go(`/setup?app=${APP}`, 'data-status');
    check((await text('[data-testid=firehose-url]')) === `${BASE}/v1/firehose`, 'the Firehose endpoint URL');
    check((await page.locator('[data-testid=application-id-value]').count()) === 0, 'the application id is hidden until asked for');
    await page.click('[data-testid=show-application-id]');
    check((await text('[data-testid=application-id-value]')) === appDoc.application_id, 'shown on request, it is the app\'s application id');
    const formats = await api('/api/v1/log-formats');
    check((await text('[data-testid=log-format]')) === formats.rest, 'the REST log format');
    await page.click('[data-testid=format-tab-websocket]');
    check((await text('[data-testid=log-format]')) === formats.websocket, 'the WebSocket log format');
    await page.click('[data-testid=copy-format]');
    await page.waitForFunction(() => /Copied|Select and copy/.test(document.querySelector('[data-testid=copy-format]')?.textContent ?? ''));
    check(true, 'the copy button answers');
    const st = await api(`/api/v1/apps/${APP}/status`);
    check((await text('[data-testid=events-stored]')) === thousands(st.events), `${thousands(st.events)} events stored`);
    check(st.rejected >= 2 && (await text('[data-testid=rejected]')) === thousands(st.rejected), `${st.rejected} rejected records`);
    check((await page.locator('[data-testid=rejected-reasons] tr').count()) === st.rejected_reasons.length, 'with their reasons');
    check((await attr('[data-testid=last-batch]', 'data-time')) === st.last_batch_at, 'and the last batch time');
    await shot('setup');
  });

  await step('empty app', async () => {
    const apps = (await api('/api/v1/apps')).apps;
    const empty = apps.find((a) => a.app_id !== APP);
    await go(`/?app=${empty.app_id}`, 'page-overview');
    await page.waitForSelector('.state-empty');
    check((await text('.state-empty strong')).includes('No requests'), 'an app without data shows an empty state');
    await shot('overview-empty', { full: false });
    await page.selectOption('[data-testid=app-picker]', APP);
    await settled('tile-count');
    check(page.url().includes(APP), 'the app picker switches app');
  });

  await step('phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [path, testid, name] of [
      [`/?app=${APP}`, 'tile-count', 'overview-phone'],
      [`/events?app=${APP}`, 'event-table', 'events-phone'],
      [`/setup?app=${APP}`, 'data-status', 'setup-phone'],
    ]) {
      await go(path, testid);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `${name}: no sideways scrolling of the page`, `${overflow}px`);
      await shot(name);
    }
    check(!(await page.locator('nav.sidebar').isVisible()), 'the menu is folded away');
    await page.click('.menu-toggle');
    check(await page.locator('nav.sidebar').isVisible(), 'and opens from the menu button');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('log out', async () => {
    await go(`/?app=${APP}`, 'tile-count');
    await page.click('[data-testid=logout]');
    await page.waitForSelector('[data-testid=login]');
    const status = await page.evaluate(async () => (await fetch('/api/v1/apps')).status);
    check(status === 401, 'after logging out the API refuses the browser');
  });

  check(pageErrors.length === 0, 'no script errors in the page', pageErrors.join('; '));
} catch (e) {
  console.error(`dashboard e2e: FAILED after ${passed} checks: ${e.message}`);
  if (pageErrors.length) console.error('page errors: ' + pageErrors.join('; '));
  console.error(`screenshots: ${SHOTS}`);
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}

await ctx.close();
rmSync(profile, { recursive: true, force: true });
console.log(`screenshots (${shotList.length}): ${SHOTS}`);
console.log(`dashboard e2e: all checks passed (${passed} checks)`);
