import { JSDOM } from "jsdom";
import type { Clock } from "../src/delivery/dispatcher.js";
import type { StorageLike } from "../src/delivery/queue.js";
import type { FeedbackEvent } from "../src/types.js";

/** A manual clock: timers run only when the test advances time. */
export class FakeClock implements Clock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  randomValue = 0.5;

  now = (): number => this.t;
  random = (): number => this.randomValue;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Moves time forward, firing due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }

  /** Delay of the earliest pending timer, or undefined. */
  nextDelay(): number | undefined {
    const ats = [...this.timers.values()].map((t) => t.at - this.t);
    return ats.length ? Math.min(...ats) : undefined;
  }
}

/** Lets pending promise callbacks (fetch stubs, response parsing) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class MemoryStorage implements StorageLike {
  data = new Map<string, string>();
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.data.set(key, value);
  }
}

export interface Call {
  url: string;
  init: RequestInit;
  body: { sent_at: number; events: FeedbackEvent[] };
}

type Reply = Response | Error | ((call: Call) => Response | Error);

/** A fetch stub answering from a script of replies (the last one repeats). */
export function fakeFetch(...replies: Reply[]) {
  const calls: Call[] = [];
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const call: Call = { url, init, body: JSON.parse(String(init.body)) };
    calls.push(call);
    let reply = replies.length > 1 ? replies.shift()! : replies[0]!;
    if (typeof reply === "function") reply = reply(call);
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return { fetch, calls };
}

export function accepted(call: Call, rejected: unknown[] = []): Response {
  return json(202, { accepted: call.body.events.length - rejected.length, rejected });
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export function event(n: number, extra: Partial<FeedbackEvent> = {}): FeedbackEvent {
  return {
    event_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    type: "copy",
    timestamp: 1_700_000_000_000 + n,
    conversation_id: "conv-1",
    trace_id: "trace-1",
    message_id: "msg-1",
    ...extra,
  };
}

export interface Beacon {
  url: string;
  type: string;
  body: { api_key: string; sent_at: number; events: FeedbackEvent[] };
}

/** A sendBeacon stub that records decoded bodies. */
export function fakeBeacon(accept = true) {
  const beacons: Beacon[] = [];
  const pending: Array<Promise<void>> = [];
  const sendBeacon = (url: string, data: Blob | string): boolean => {
    if (!accept) return false;
    const blob = typeof data === "string" ? new Blob([data]) : data;
    pending.push(
      blob.text().then((text) => {
        beacons.push({ url, type: blob.type, body: JSON.parse(text) });
      }),
    );
    return true;
  };
  return { sendBeacon, beacons, done: () => Promise.all(pending) };
}

export function dom(html = "<!doctype html><html><head></head><body></body></html>"): JSDOM {
  return new JSDOM(html, { pretendToBeVisual: true, url: "https://app.test/chat" });
}
