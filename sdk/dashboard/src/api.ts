// The dashboard's only server: GET /v1/stats/<view> with the signed-in key.

export const KEY_STORAGE = "feedback.dashboard.key";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Params = Record<string, string | undefined>;

export async function getStats<T>(view: string, params: Params, key: string, signal?: AbortSignal): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, value);
  const init: RequestInit = { headers: { Authorization: `Bearer ${key}` }, cache: "no-store" };
  if (signal) init.signal = signal;
  const response = await fetch(`../v1/stats/${view}?${query}`, init);
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new ApiError(response.status, body.error ?? `HTTP ${response.status}`);
  return body as T;
}

export interface Range {
  from: number;
  to: number;
  bucket: "hour" | "day" | "week";
  tenant: string | null;
  dimensions: Record<string, string>;
}

export interface QualityPoint {
  t: number;
  up: number;
  down: number;
  thumbs: number;
  down_rate: number | null;
  low: number | null;
  high: number | null;
  ratings: number;
  rating_mean: number | null;
  responses: number;
  mean_score: number | null;
}

export interface QualityTotals {
  model_version: string;
  up: number;
  down: number;
  thumbs: number;
  down_rate: number | null;
  low: number | null;
  high: number | null;
  ratings: number;
  rating_mean: number | null;
  responses: number;
}

export interface Quality {
  range: Range;
  series: { model_version: string; points: QualityPoint[] }[];
  totals: QualityTotals[];
  markers: { kind: string; version: string; first: number }[];
  has_scores: boolean;
}

export interface Reasons {
  range: Range;
  by: string;
  source: string;
  versions: { version: string; up: number; down: number; reasons: { reason: string; opinions: number; share: number | null }[] }[];
}

export interface SignalPoint {
  t: number;
  responses: number;
  [name: string]: number | null;
}

export interface Signals {
  range: Range;
  points: SignalPoint[];
}

export interface Health {
  minutes: number;
  events_per_minute: { t: number; events: number }[];
  newest_event_ms: number | null;
  kafka: { lag_messages?: number; dlq_messages?: number; error?: string };
}

export interface Alert {
  alert_id: string;
  tenant_id: string;
  raised: number;
  metric: string;
  comparison: string;
  dimensions: Record<string, string>;
  window_start: number;
  window_end: number;
  baseline: number;
  current: number;
  n: number;
  p_adjusted: number;
  severity: string;
}

export interface Alerts {
  available: boolean;
  alerts: Alert[];
}

export interface Trace {
  [name: string]: unknown;
  trace_id: string;
  model: string | null;
  model_version: string | null;
  prompt_version: string | null;
  feature: string | null;
  input_text: string | null;
  output_text: string | null;
}

export interface ResponseRow {
  tenant_id: string;
  message_id: string;
  trace_id: string | null;
  first_signal: number;
  last_signal: number;
  downs: number;
  ups: number;
  ratings: number;
  rating_mean: number | null;
  low_ratings: number;
  copies: number;
  edits: number;
  regenerates: number;
  rephrases: number;
  dwells: number;
  abandons: number;
  reasons: string[];
  comments: string[];
  trace: Trace | null;
}

export interface Responses {
  range: Range;
  responses: ResponseRow[];
}

export interface ResponseEvent {
  event_id: string;
  type: string;
  ts: number;
  user_id: string | null;
  session_id: string | null;
  thumb: string | null;
  rating: number | null;
  reasons: string[];
  comment: string | null;
  edited_text: string | null;
  copied_chars: number | null;
  attempt: number | null;
  dwell_ms: number | null;
  current: boolean;
}

export interface ResponseDetail {
  message_id: string;
  tenant: string | null;
  opinions: { ups: number; downs: number; ratings: number[] };
  events: ResponseEvent[];
  traces: Trace[];
}

export interface FilterValues {
  kind: "admin" | "analyst";
  values: Record<string, string[]>;
  range: Range;
}
