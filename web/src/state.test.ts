import { describe, expect, it } from 'vitest';
import {
  EXPLORER_DEFAULTS,
  eventsParams,
  explorerRequest,
  funnelRequest,
  parseBound,
  parseEvents,
  parseExplorer,
  parseFunnel,
  parseRetention,
  previousRange,
  resolveRange,
  retentionRequest,
  rowsToFilter,
  serializeEvents,
  serializeExplorer,
  serializeFunnel,
  serializeRetention,
  type ExplorerState,
} from './state';

describe('explorer state in the URL', () => {
  it('defaults to requests over the last 24 h', () => {
    expect(parseExplorer('')).toEqual(EXPLORER_DEFAULTS);
    expect(serializeExplorer(EXPLORER_DEFAULTS)).toBe('');
  });

  const cases: [string, ExplorerState, string][] = [
    [
      'time series by status class with a filter',
      { ...EXPLORER_DEFAULTS, metrics: ['latency_p95'], interval: '1h', groupBy: ['status_class'], from: '-7d', filters: [{ field: 'route', op: 'eq', value: '/orders/{id}' }] },
      'app=app_1&m=latency_p95&i=1h&g=status_class&from=-7d&f.route=eq%3A%2Forders%2F%7Bid%7D',
    ],
    [
      'segmentation with three groups, sort and limit',
      { ...EXPLORER_DEFAULTS, view: 'segmentation', metrics: ['count', 'error_rate'], groupBy: ['method', 'route', 'user_id'], sort: '-error_rate', limit: 20 },
      'app=app_1&view=segmentation&m=count%2Cerror_rate&g=method%2Croute%2Cuser_id&limit=20&sort=-error_rate',
    ],
    [
      'absolute range and repeated filters on one field',
      {
        ...EXPLORER_DEFAULTS,
        from: '2026-02-01T00:00:00Z',
        to: '2026-02-02T00:00:00Z',
        filters: [
          { field: 'status', op: 'gte', value: '400' },
          { field: 'status', op: 'lt', value: '500' },
          { field: 'metadata.tier', op: 'in', value: 'gold, silver' },
        ],
      },
      'app=app_1&from=2026-02-01T00%3A00%3A00Z&to=2026-02-02T00%3A00%3A00Z&f.status=gte%3A400&f.status=lt%3A500&f.metadata.tier=in%3Agold%2C+silver',
    ],
  ];
  it.each(cases)('%s round-trips', (_name, st, query) => {
    expect(serializeExplorer(st, 'app_1')).toBe(query);
    expect(parseExplorer('?' + query)).toEqual(st);
  });

  it('drops what it does not know', () => {
    const st = parseExplorer('?view=pie&m=count,bogus,count&i=2h&limit=-3&g=a,b,c,d&f.route=weird:x&f.=eq:1');
    expect(st.view).toBe('timeseries');
    expect(st.metrics).toEqual(['count']);
    expect(st.interval).toBe('auto');
    expect(st.limit).toBe(0);
    expect(st.groupBy).toEqual(['a', 'b', 'c']);
    expect(st.filters).toEqual([]);
  });

  it('keeps a value containing the separator', () => {
    const st = parseExplorer('?f.path=contains%3Ahttp%3A%2F%2Fx%3A1');
    expect(st.filters).toEqual([{ field: 'path', op: 'contains', value: 'http://x:1' }]);
  });
});

describe('explorer requests', () => {
  it('asks for a time series with a typed filter', () => {
    const st: ExplorerState = { ...EXPLORER_DEFAULTS, metrics: ['count', 'error_rate'], groupBy: ['route', 'method'], limit: 80, filters: [{ field: 'status', op: 'gte', value: '500' }] };
    expect(explorerRequest('a1', st)).toEqual({
      path: '/api/v1/metrics/timeseries',
      params: { app_id: 'a1', from: '-24h', metric: 'count', interval: 'auto', group_by: 'route', limit: '50', filter: '{"field":"status","op":"gte","value":500}' },
    });
  });
  it('asks for a segmentation', () => {
    const st: ExplorerState = { ...EXPLORER_DEFAULTS, view: 'segmentation', metrics: ['count', 'latency_p95'], groupBy: ['route'], sort: '-latency_p95', from: '-7d', to: 'now' };
    expect(explorerRequest('a1', st)).toEqual({
      path: '/api/v1/metrics/segmentation',
      params: { app_id: 'a1', from: '-7d', to: 'now', metrics: 'count,latency_p95', group_by: 'route', sort: '-latency_p95' },
    });
  });
});

describe('filters', () => {
  it('types values by field', () => {
    expect(
      rowsToFilter(
        [
          { field: 'status', op: 'between', value: '400, 499' },
          { field: 'method', op: 'in', value: 'GET,POST,' },
          { field: 'rejected_at_gateway', op: 'eq', value: 'true' },
          { field: 'user_id', op: 'exists', value: '' },
          { field: 'status', op: 'class', value: '5xx' },
          { field: 'route', op: 'eq', value: '' },
          { field: 'metadata.plan', op: 'eq', value: '42' },
          { field: 'seats', op: 'gt', value: '10' },
        ],
        { seats: 'number' },
      ),
    ).toEqual({
      and: [
        { field: 'status', op: 'between', values: [400, 499] },
        { field: 'method', op: 'in', values: ['GET', 'POST'] },
        { field: 'rejected_at_gateway', op: 'eq', value: true },
        { field: 'user_id', op: 'exists', value: true },
        { field: 'status', op: 'class', value: '5xx' },
        { field: 'metadata.plan', op: 'eq', value: '42' },
        { field: 'seats', op: 'gt', value: 10 },
      ],
    });
  });
  it('is undefined when empty and bare for one condition', () => {
    expect(rowsToFilter([])).toBeUndefined();
    expect(rowsToFilter([{ field: 'route', op: 'eq', value: ' ' }])).toBeUndefined();
    expect(rowsToFilter([{ field: 'route', op: 'prefix', value: '/v1' }])).toEqual({ field: 'route', op: 'prefix', value: '/v1' });
  });
});

describe('event log state', () => {
  it('round-trips and builds the request', () => {
    const st = { from: '-1h', to: '', status: '4xx', q: 'ord', filters: [{ field: 'method', op: 'eq' as const, value: 'POST' }] };
    const query = serializeEvents(st, 'a1');
    expect(query).toBe('app=a1&from=-1h&status=4xx&q=ord&f.method=eq%3APOST');
    expect(parseEvents('?' + query)).toEqual(st);
    expect(eventsParams('a1', st)).toEqual({
      app_id: 'a1',
      from: '-1h',
      status: '4xx',
      filter: JSON.stringify({
        and: [
          { field: 'method', op: 'eq', value: 'POST' },
          { or: [{ field: 'path', op: 'contains', value: 'ord' }, { field: 'user_id', op: 'contains', value: 'ord' }] },
        ],
      }),
    });
  });
  it('refuses a malformed status', () => {
    expect(parseEvents('?status=6xx').status).toBe('');
    expect(parseEvents('?status=404').status).toBe('404');
  });
});

describe('time ranges', () => {
  const now = Date.parse('2026-02-10T12:00:00Z');
  it.each([
    ['-24h', Date.parse('2026-02-09T12:00:00Z')],
    ['-30m', Date.parse('2026-02-10T11:30:00Z')],
    ['-7d', Date.parse('2026-02-03T12:00:00Z')],
    ['-2w', Date.parse('2026-01-27T12:00:00Z')],
    ['now', now],
    ['2026-02-01T00:00:00Z', Date.parse('2026-02-01T00:00:00Z')],
    ['2026-02-01T01:00:00+01:00', Date.parse('2026-02-01T00:00:00Z')],
    ['yesterday', null],
    ['-5y', null],
  ])('%s', (s, want) => expect(parseBound(s, now)).toBe(want));

  it('resolves and steps back one period', () => {
    const r = resolveRange('-24h', '', now)!;
    expect(r).toEqual({ from: Date.parse('2026-02-09T12:00:00Z'), to: now });
    expect(previousRange(r)).toEqual({ from: Date.parse('2026-02-08T12:00:00Z'), to: Date.parse('2026-02-09T12:00:00Z') });
    expect(resolveRange('', '', now)).toEqual(r);
    expect(resolveRange('-1h', '-2h', now)).toBeNull();
  });
});

describe('funnels', () => {
  it('round-trips a two-step funnel and builds its request', () => {
    const st = {
      from: '-7d',
      to: '',
      window: '24h',
      steps: [
        { name: 'Sign up', filters: [{ field: 'route', op: 'eq' as const, value: '/signup' }] },
        { name: '', filters: [{ field: 'route', op: 'eq' as const, value: '/orders' }, { field: 'method', op: 'eq' as const, value: 'POST' }] },
      ],
    };
    expect(parseFunnel('?' + serializeFunnel(st, 'a1'))).toEqual(st);
    expect(funnelRequest('a1', st)).toEqual({
      body: {
        app_id: 'a1',
        from: '-7d',
        window: '24h',
        steps: [
          { name: 'Sign up', filter: { field: 'route', op: 'eq', value: '/signup' } },
          {
            name: 'route = /orders and method = POST',
            filter: { and: [{ field: 'route', op: 'eq', value: '/orders' }, { field: 'method', op: 'eq', value: 'POST' }] },
          },
        ],
      },
    });
  });
  it('refuses a step without a condition', () => {
    const st = parseFunnel('');
    expect(funnelRequest('a1', st).error).toBe('Step 1 needs a condition.');
    expect(parseFunnel('?def=%7Bnot json').steps.length).toBe(2);
  });
});

describe('retention', () => {
  it('round-trips and builds its request', () => {
    const st = { from: '-4w', to: '', period: 'day' as const, first: [{ field: 'route', op: 'eq' as const, value: '/signup' }], returning: [] };
    const q = serializeRetention(st, 'a1');
    expect(q).toBe('app=a1&from=-4w&period=day&first.f.route=eq%3A%2Fsignup');
    expect(parseRetention('?' + q)).toEqual(st);
    expect(retentionRequest('a1', st)).toEqual({ app_id: 'a1', period: 'day', from: '-4w', first_event: { field: 'route', op: 'eq', value: '/signup' }, tz: 'UTC' });
  });
});
