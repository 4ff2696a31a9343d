// The query API's shapes, as internal/api/openapi.json defines them.

export type Metric =
  | 'count'
  | 'unique_users'
  | 'unique_companies'
  | 'error_rate'
  | 'error_rate_4xx'
  | 'error_rate_5xx'
  | 'latency_avg'
  | 'latency_p50'
  | 'latency_p90'
  | 'latency_p95'
  | 'latency_p99'
  | 'bytes'
  | 'rejected_at_gateway';

export const METRICS: Metric[] = [
  'count',
  'unique_users',
  'unique_companies',
  'error_rate',
  'error_rate_4xx',
  'error_rate_5xx',
  'latency_avg',
  'latency_p50',
  'latency_p90',
  'latency_p95',
  'latency_p99',
  'bytes',
  'rejected_at_gateway',
];

export type Interval = 'auto' | '1m' | '5m' | '15m' | '1h' | '1d' | '1w';
export const INTERVALS: Interval[] = ['auto', '1m', '5m', '15m', '1h', '1d', '1w'];

export type Op =
  | 'eq'
  | 'ne'
  | 'in'
  | 'not_in'
  | 'prefix'
  | 'contains'
  | 'gt'
  | 'gte'
  | 'lt'
  | 'lte'
  | 'between'
  | 'class'
  | 'exists';

export const OPS: Op[] = ['eq', 'ne', 'in', 'not_in', 'prefix', 'contains', 'gt', 'gte', 'lt', 'lte', 'between', 'class', 'exists'];

/** The API's filter: a condition, or and/or/not of filters. */
export interface Filter {
  and?: Filter[];
  or?: Filter[];
  not?: Filter;
  field?: string;
  op?: Op;
  value?: unknown;
  values?: unknown[];
}

export interface App {
  app_id: string;
  name: string;
  application_id?: string;
  created_at: string;
}

export interface FieldInfo {
  name: string;
  type: 'string' | 'number' | 'boolean';
  group_by: boolean;
}

export interface Fields {
  fields: FieldInfo[];
  metrics: Metric[];
  metadata_keys: string[];
}

export interface Event {
  app_id: string;
  request_id: string;
  time: string;
  api_id?: string | null;
  stage?: string | null;
  method?: string | null;
  path?: string | null;
  route?: string | null;
  host?: string | null;
  protocol?: string | null;
  status?: number | null;
  response_bytes?: number | null;
  latency_ms?: number | null;
  integration_latency_ms?: number | null;
  ip?: string | null;
  user_agent?: string | null;
  user_id?: string | null;
  company_id?: string | null;
  api_key_id?: string | null;
  principal_id?: string | null;
  cognito_identity_id?: string | null;
  caller?: string | null;
  user_arn?: string | null;
  error_message?: string | null;
  error_type?: string | null;
  rejected_at_gateway?: boolean;
  source: string;
  metadata: Record<string, unknown>;
}

export interface Point {
  t: string;
  v: number | null;
}

export interface Series {
  group: string | null;
  other?: boolean;
  points: Point[];
}

export interface TimeSeries {
  interval: string;
  metric: Metric;
  from: string;
  to: string;
  series: Series[];
}

export type SegRow = Record<string, string | number | boolean | null>;

export interface Segmentation {
  rows: SegRow[];
}

export interface Stats {
  requests: number;
  errors_4xx: number;
  errors_5xx: number;
  error_rate: number | null;
  latency_p95: number | null;
}

export interface UserSummary extends Stats {
  user_id: string;
  company_id: string | null;
  first_seen: string | null;
  last_seen: string | null;
  metadata: Record<string, unknown>;
}

export interface CompanySummary extends Stats {
  company_id: string;
  domain: string | null;
  first_seen: string | null;
  last_seen: string | null;
  metadata: Record<string, unknown>;
  users: number;
}

export interface RouteStats {
  method: string | null;
  route: string | null;
  requests: number;
  error_rate: number | null;
  latency_p95: number | null;
}

export interface UserProfile {
  user: UserSummary;
  totals: Stats;
  series: TimeSeries;
  top_routes: RouteStats[];
  recent_events: Event[];
}

export interface CompanyProfile {
  company: CompanySummary;
  totals: Stats;
  series: TimeSeries;
  top_routes: RouteStats[];
  recent_events: Event[];
  users: UserSummary[];
}

export interface FunnelStep {
  name: string;
  users: number;
  conversion_from_previous: number | null;
  conversion_from_first: number | null;
  median_seconds_from_previous: number | null;
}

export interface Funnel {
  window_seconds: number;
  steps: FunnelStep[];
  splits?: { group: string | null; steps: FunnelStep[] }[];
}

export interface Cohort {
  start: string;
  users: number;
  retained: { period: number; users: number; rate: number }[];
}

export interface Retention {
  period: string;
  cohorts: Cohort[];
}

export interface RejectedRecord {
  received_at: string;
  source: string;
  reason: string;
  batch_id: string | null;
  raw: string;
  raw_bytes: number;
  truncated: boolean;
}

export interface AppStatus {
  app_id: string;
  last_batch_at: string | null;
  last_batch_events: number;
  batches: number;
  events: number;
  rejected: number;
  rejected_reasons: { reason: string; count: number }[];
  recent_rejected: RejectedRecord[];
}

export type LogFormats = Record<'rest' | 'http' | 'websocket', string>;
