import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, url } from '../api';
import { useApp } from '../context';
import { useAsync, useDebounced } from '../hooks';
import { navigate, useLocation } from '../router';
import { eventsParams, parseEvents, serializeEvents, type EventsState, type FilterRow } from '../state';
import { formatInt } from '../format';
import type { Event } from '../types';
import { PageHeader } from '../components/Layout';
import { RangePicker } from '../components/RangePicker';
import { FilterEditor } from '../components/FilterEditor';
import { EventDetail, EventTable } from '../components/EventTable';
import { Drawer } from '../components/Drawer';
import { Empty, ErrorBox, Loading } from '../components/States';

const PAGE = 100;
const MAX_ROWS = 1000;
const CLASSES = ['', '2xx', '3xx', '4xx', '5xx'];

type Tail = 'off' | 'connecting' | 'live' | 'paused' | 'unavailable';

export function Events() {
  const { appId, types } = useApp();
  const loc = useLocation();
  const st = useMemo(() => parseEvents(loc.search), [loc.search]);
  const set = (patch: Partial<EventsState>, replace = false) => navigate('/events?' + serializeEvents({ ...st, ...patch }, appId), replace);

  // Typing edits drafts; they reach the URL (and the query) once typing pauses.
  const [q, setQ] = useState(st.q);
  const [rows, setRowsDraft] = useState<FilterRow[]>(st.filters);
  const dq = useDebounced(q, 350);
  const drows = useDebounced(rows, 350);
  useEffect(() => {
    const next = serializeEvents({ ...st, q: dq, filters: drows }, appId);
    if (next !== serializeEvents(st, appId)) navigate('/events?' + next, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dq, drows]);
  useEffect(() => {
    // The URL changed by navigation (back, a link): show its state.
    if (st.q !== dq) setQ(st.q);
    if (serializeEvents({ ...st, filters: st.filters }) !== serializeEvents({ ...st, filters: drows })) setRowsDraft(st.filters);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [loc.search]);

  const params = useMemo(() => eventsParams(appId, st, types), [appId, st, types]);
  const key = JSON.stringify(params);
  const first = useAsync((s) => get<{ events: Event[]; next_cursor: string }>('/api/v1/events', { ...params, limit: PAGE }, s), [key]);
  const [events, setEvents] = useState<Event[]>([]);
  const [cursor, setCursor] = useState('');
  const [older, setOlder] = useState<{ loading: boolean; error?: Error }>({ loading: false });
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  useEffect(() => {
    if (first.data) {
      setEvents(first.data.events);
      setCursor(first.data.next_cursor);
      setFresh(new Set());
    }
  }, [first.data]);

  // The live tail: server-sent events matching the same filters. The
  // server sends what arrives after the stream opens, so pausing keeps
  // the stream and holds its events back (the newest MAX_ROWS) until the
  // user resumes, instead of closing it and losing them.
  const [paused, setPaused] = useState(false);
  const [conn, setConn] = useState<Tail>('off');
  const tail: Tail = conn === 'off' ? 'off' : paused ? 'paused' : conn;
  const pausedNow = useRef(paused);
  pausedNow.current = paused;
  const held = useRef<Event[]>([]);
  const canTail = !st.to;
  // show puts events (newest first) at the top of the table.
  const show = (evs: Event[]) => {
    const ids = new Set(evs.map((e) => e.request_id));
    setEvents((rs) => [...evs, ...rs.filter((r) => !ids.has(r.request_id))].slice(0, MAX_ROWS));
    setFresh((f) => {
      const n = new Set(f);
      ids.forEach((id) => n.add(id));
      return n;
    });
  };
  useEffect(() => {
    held.current = [];
    if (!canTail || !first.data) {
      setConn('off');
      return;
    }
    const { from: _f, to: _t, ...live } = params;
    const es = new EventSource(url('/api/v1/events/stream', live));
    setConn('connecting');
    es.onopen = () => setConn('live');
    es.onerror = () => setConn(es.readyState === EventSource.CLOSED ? 'unavailable' : 'connecting');
    es.addEventListener('event', (m) => {
      let ev: Event;
      try {
        ev = JSON.parse((m as MessageEvent).data);
      } catch {
        return;
      }
      if (pausedNow.current) {
        held.current = [ev, ...held.current.filter((r) => r.request_id !== ev.request_id)].slice(0, MAX_ROWS);
      } else {
        show([ev]);
      }
    });
    return () => es.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, canTail, first.data]);
  useEffect(() => {
    if (!paused && held.current.length > 0) {
      const evs = held.current;
      held.current = [];
      show(evs);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [paused]);

  const [open, setOpen] = useState<Event | null>(null);
  const detail = useAsync(
    open ? (s) => get<Event>('/api/v1/events/' + encodeURIComponent(open.request_id), { app_id: appId }, s).catch(() => open) : null,
    [open?.request_id],
  );

  const loadOlder = async () => {
    setOlder({ loading: true });
    try {
      const r = await get<{ events: Event[]; next_cursor: string }>('/api/v1/events', { ...params, limit: PAGE, cursor });
      setEvents((rs) => [...rs, ...r.events.filter((e) => !rs.some((x) => x.request_id === e.request_id))]);
      setCursor(r.next_cursor);
      setOlder({ loading: false });
    } catch (e) {
      setOlder({ loading: false, error: e as Error });
    }
  };

  return (
    <div data-testid="page-events">
      <PageHeader title="Event log">
        {canTail ? (
          <button type="button" class={`btn live ${tail}`} data-testid="live-toggle" data-state={tail} onClick={() => setPaused(!paused)}>
            <span class="dot" aria-hidden="true" />
            {paused ? 'Resume live tail' : tail === 'live' ? 'Live — pause' : tail === 'unavailable' ? 'Live tail unavailable' : 'Connecting…'}
          </button>
        ) : (
          <span class="muted">Live tail is off for a range that ends in the past</span>
        )}
      </PageHeader>
      <div class="toolbar card">
        <div class="toolbar-row">
          <input
            type="search"
            class="search"
            placeholder="Search path or user…"
            aria-label="Search path or user"
            data-testid="event-search"
            value={q}
            onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          />
          <div class="seg-buttons" role="group" aria-label="Status class" data-testid="status-class">
            {CLASSES.map((c) => (
              <button type="button" key={c} class={st.status === c ? 'on' : ''} onClick={() => set({ status: c })}>
                {c || 'All'}
              </button>
            ))}
          </div>
          <RangePicker from={st.from} to={st.to} onChange={(from, to) => set({ from, to })} allowAll />
        </div>
        <FilterEditor rows={rows} onChange={setRowsDraft} testid="event-filters" />
      </div>
      {first.error ? (
        <ErrorBox error={first.error} retry={first.reload} />
      ) : !first.data ? (
        <Loading />
      ) : events.length === 0 ? (
        <Empty title="No events match">Widen the time range or remove a filter.</Empty>
      ) : (
        <section class={`card ${first.loading ? 'refreshing' : ''}`}>
          <div class="table-meta muted" data-testid="event-count" data-count={events.length}>
            {formatInt(events.length)} event{events.length === 1 ? '' : 's'} shown, newest first
            {fresh.size > 0 && ` · ${formatInt(fresh.size)} new since loading`}
          </div>
          <EventTable events={events} onOpen={setOpen} />
          {cursor && events.length < MAX_ROWS && (
            <div class="more">
              <button type="button" class="btn" data-testid="load-older" disabled={older.loading} onClick={loadOlder}>
                {older.loading ? 'Loading…' : 'Load older events'}
              </button>
              {older.error && <span class="error-text">{older.error.message}</span>}
            </div>
          )}
        </section>
      )}
      {open && (
        <Drawer title={`${open.method ?? ''} ${open.path ?? open.request_id}`} onClose={() => setOpen(null)}>
          {detail.data ? <EventDetail event={detail.data} /> : detail.error ? <ErrorBox error={detail.error} /> : <Loading />}
        </Drawer>
      )}
    </div>
  );
}
