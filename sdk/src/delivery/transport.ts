import type { FeedbackEvent } from "../types.js";
import { parseRetryAfter } from "./backoff.js";

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;
export type BeaconLike = (url: string, data: Blob | string) => boolean;

/** Browsers refuse keepalive requests and beacons above 64 KiB in flight. */
export const KEEPALIVE_BYTES = 60_000;

export interface Rejection {
  event: FeedbackEvent;
  errors: string[];
}

export type SendOutcome =
  | { kind: "ok"; rejected: Rejection[] }
  | { kind: "retry"; status?: number; retryAfterMs?: number; cause?: unknown }
  | { kind: "too_large"; status: number }
  | { kind: "drop"; status: number; message: string };

export interface TransportOptions {
  endpoint: string;
  publicKey: string;
  fetch: FetchLike;
  sendBeacon?: BeaconLike | undefined;
  now: () => number;
}

/** Talks to `POST {endpoint}/v1/events`: one batch per call, no retries of its own. */
export class Transport {
  readonly url: string;

  constructor(private readonly opts: TransportOptions) {
    this.url = `${opts.endpoint.replace(/\/+$/, "")}/v1/events`;
  }

  async send(events: FeedbackEvent[]): Promise<SendOutcome> {
    const body = JSON.stringify({ sent_at: this.opts.now(), events });
    let response: Response;
    try {
      response = await this.opts.fetch(this.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${this.opts.publicKey}`,
        },
        body,
        credentials: "omit",
        // Lets a request started just before the page goes away finish.
        keepalive: utf8Length(body) <= KEEPALIVE_BYTES,
      });
    } catch (cause) {
      return { kind: "retry", cause };
    }
    return classify(response, events, this.opts.now());
  }

  /**
   * Hands events to `navigator.sendBeacon` as `text/plain` (no preflight; the
   * key travels in the body because a beacon cannot set headers). Returns the
   * events the browser accepted; the rest stay queued for the next page load.
   */
  beacon(events: FeedbackEvent[]): FeedbackEvent[] {
    const send = this.opts.sendBeacon;
    if (!send || events.length === 0) return [];
    const accepted: FeedbackEvent[] = [];
    for (const chunk of chunkByBytes(events, KEEPALIVE_BYTES - 200)) {
      const body = JSON.stringify({ api_key: this.opts.publicKey, sent_at: this.opts.now(), events: chunk });
      let ok = false;
      try {
        ok = send(this.url, new Blob([body], { type: "text/plain;charset=UTF-8" }));
      } catch {
        ok = false;
      }
      if (!ok) break;
      accepted.push(...chunk);
    }
    return accepted;
  }
}

async function classify(response: Response, events: FeedbackEvent[], now: number): Promise<SendOutcome> {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: "ok", rejected: await readRejections(response, events) };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get("Retry-After"), now);
    return retryAfterMs === undefined ? { kind: "retry", status } : { kind: "retry", status, retryAfterMs };
  }
  if (status === 413) return { kind: "too_large", status };
  const text = await response.text().catch(() => "");
  return { kind: "drop", status, message: `collector answered ${status}${text ? `: ${text.slice(0, 200)}` : ""}` };
}

interface RejectedItem {
  index?: number;
  event_id?: string;
  errors?: string[];
}

async function readRejections(response: Response, events: FeedbackEvent[]): Promise<Rejection[]> {
  let body: { rejected?: RejectedItem[] };
  try {
    body = (await response.json()) as { rejected?: RejectedItem[] };
  } catch {
    return [];
  }
  if (!body || !Array.isArray(body.rejected)) return [];
  const rejections: Rejection[] = [];
  for (const item of body.rejected) {
    const event =
      events.find((e) => item.event_id !== undefined && e.event_id === item.event_id) ??
      (typeof item.index === "number" ? events[item.index] : undefined);
    if (event) rejections.push({ event, errors: Array.isArray(item.errors) ? item.errors.map(String) : [] });
  }
  return rejections;
}

/** Splits events into runs whose JSON stays under `maxBytes` (UTF-8). */
export function chunkByBytes(events: FeedbackEvent[], maxBytes: number): FeedbackEvent[][] {
  const chunks: FeedbackEvent[][] = [];
  let current: FeedbackEvent[] = [];
  let size = 0;
  for (const e of events) {
    const bytes = utf8Length(JSON.stringify(e)) + 1;
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(e);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
