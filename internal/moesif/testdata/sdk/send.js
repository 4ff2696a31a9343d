// Drives the official Moesif Node.js SDKs, as installed from the npm
// registry and unmodified, against a Gatescope: the API library
// (moesifapi) for users, companies and events, and the Express/Node
// middleware (moesif-nodejs) capturing a real HTTP call. The only change
// from Moesif's own setup is the base URI.
//
// Env: GATESCOPE_URL (base URI), GATESCOPE_APP_KEY (the application id the
// API library uses), GATESCOPE_MIDDLEWARE_KEY (the one the middleware
// uses; another app's). Prints one JSON object: the HTTP status each SDK
// call ended with.
'use strict';

const http = require('http');
const moesifapi = require('moesifapi');
const moesif = require('moesif-nodejs');

const base = process.env.GATESCOPE_URL;
const key = process.env.GATESCOPE_APP_KEY;
const mwKey = process.env.GATESCOPE_MIDDLEWARE_KEY;
if (!base || !key || !mwKey) {
  console.error('GATESCOPE_URL, GATESCOPE_APP_KEY and GATESCOPE_MIDDLEWARE_KEY are required');
  process.exit(2);
}
moesifapi.configuration.BaseUri = base;
moesifapi.configuration.ApplicationId = key;
const api = moesifapi.ApiController;

// status is the HTTP status an SDK callback reports. On failure the SDK's
// error carries axios's code (ERR_BAD_REQUEST), the status is in context.
function status(err, context) {
  if (context && context.response && context.response.statusCode) return context.response.statusCode;
  return (err && (err.errorCode || err.errorMessage)) || 'error';
}

// call runs one SDK call and resolves to the HTTP status it ended with.
function call(fn, body) {
  return new Promise((resolve) => {
    const cb = (err, response, context) => {
      if (err) {
        resolve(status(err, context));
      } else {
        resolve(response.statusCode);
      }
    };
    if (body === undefined) fn(cb);
    else fn(body, cb);
  });
}

const t = (s) => new Date(s);

function event(userId, companyId, time, uri, status) {
  const ev = {
    request: {
      time: t(time),
      uri: uri,
      verb: 'GET',
      apiVersion: '1.1.0',
      ipAddress: '61.48.220.123',
      headers: {
        Host: 'api.acme.test',
        'User-Agent': 'Dalvik/2.1.0 (Linux; U; Android 5.0.2)',
        Authorization: 'Bearer never-stored',
      },
      body: { items: [{ type: 1, id: 'fwfrf' }] },
    },
    response: {
      time: new Date(t(time).getTime() + 75),
      status: status,
      headers: { 'Content-Type': 'application/json', 'Content-Length': '61' },
      body: { ok: true },
    },
    userId: userId,
    sessionToken: '23jdf0owekfmcn4u3qypxg09w4d8ayrcdx8nu2ngs98y18cx98q3yhwmnhcfx43f',
    metadata: { foo: 'abc' },
    direction: 'Incoming',
    weight: 1,
  };
  if (companyId) ev.companyId = companyId;
  return new moesifapi.EventModel(ev);
}

async function apiLibrary(out) {
  // A plain object, as Moesif's README passes to updateCompany: it goes
  // out camelCase.
  out.updateCompany = await call(api.updateCompany, {
    companyId: 'acme',
    companyDomain: 'acme.test',
    modifiedTime: t('2026-03-01T10:00:00Z'),
    campaign: { utmSource: 'google', utmMedium: 'cpc' },
    metadata: { plan: 'free', employees: 47 },
  });
  out.updateCompaniesBatch = await call(api.updateCompaniesBatch, [
    new moesifapi.CompanyModel({ companyId: 'globex', companyDomain: 'globex.test', modifiedTime: '2026-03-01T10:00:00Z', metadata: { plan: 'pro' } }),
    new moesifapi.CompanyModel({ companyId: 'acme', modifiedTime: '2026-03-01T11:00:00Z', metadata: { plan: 'enterprise' } }),
  ]);
  out.updateUser = await call(api.updateUser, new moesifapi.UserModel({
    userId: '12345',
    companyId: 'acme',
    modifiedTime: '2026-03-01T10:00:00Z',
    ipAddress: '61.48.220.123',
    sessionToken: '23jdf0owekfmcn4u3qypxg09w4d8ayrcdx8nu2ngs98y18cx98q3yhwmnhcfx43f',
    userAgentString: 'Mozilla/5.0 (X11; Linux x86_64)',
    campaign: { utmSource: 'newsletter' },
    metadata: { email: 'john@acme.test', plan: 'free' },
  }));
  out.updateUsersBatch = await call(api.updateUsersBatch, [
    // Older than the update above: its plan loses, its title is new.
    new moesifapi.UserModel({ userId: '12345', modifiedTime: '2026-03-01T09:00:00Z', metadata: { plan: 'stale', title: 'Engineer' } }),
    // No modified time: the SDK sends null, Gatescope uses the receipt time.
    new moesifapi.UserModel({ userId: '67890', companyId: 'globex', metadata: { email: 'mary@globex.test' } }),
  ]);
  // No companyId: the event belongs to the company its user is linked to.
  out.createEvent = await call(api.createEvent, event('12345', null, '2026-03-01T12:00:00.000Z', 'https://api.acme.test/orders/42?expand=items', 200));
  out.createEventsBatch = await call(api.createEventsBatch, [
    event('67890', null, '2026-03-01T12:00:01.000Z', 'https://api.acme.test/orders/43', 201),
    event('u-explicit', 'initech', '2026-03-01T12:00:02.000Z', 'https://api.acme.test/invoices/7', 404),
  ]);
  // A wrong application id: the SDK must see the error.
  moesifapi.configuration.ApplicationId = 'gsk_not-a-real-app';
  out.wrongKey = await call(api.createEvent, event('12345', null, '2026-03-01T12:00:03.000Z', 'https://api.acme.test/orders/44', 200));
  moesifapi.configuration.ApplicationId = key;
}

async function middleware(out) {
  let sent;
  const batchSent = new Promise((resolve) => { sent = resolve; });
  const mw = moesif({
    applicationId: mwKey,
    baseUri: base,
    batchMaxTime: 600,
    identifyUser: (req) => req.headers['x-user-id'],
    getMetadata: () => ({ via: 'middleware' }),
    callback: (err) => sent(err ? status(err) : 'sent'),
  });
  const server = http.createServer((req, res) => {
    mw(req, res, () => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ id: 7, name: 'widget' }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  out.appCall = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/widgets/7?color=red', headers: { 'x-user-id': 'mw-user' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
  out.middlewareBatch = await Promise.race([batchSent, new Promise((r) => setTimeout(() => r('timeout'), 15000))]);
  out.middlewareUpdateUser = await new Promise((resolve) => {
    mw.updateUser({ userId: 'mw-user', companyId: 'acme', metadata: { source: 'middleware' } },
      (err, response, context) => resolve(err ? status(err, context) : response.statusCode));
  });
  out.middlewareUpdateCompany = await new Promise((resolve) => {
    mw.updateCompany({ companyId: 'initech', companyDomain: 'initech.test' },
      (err, response, context) => resolve(err ? status(err, context) : response.statusCode));
  });
  server.close();
}

(async () => {
  const out = {};
  try {
    await apiLibrary(out);
    await middleware(out);
  } catch (e) {
    out.exception = String(e && e.stack || e);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
})();
