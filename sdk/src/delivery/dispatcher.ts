import type { ErrorCallback, FeedbackEvent } from "../types.js";
import { type BackoffOptions, retryDelay } from "./backoff.js";
import type { EventQueue } from "./queue.js";
import { chunkByBytes, type SendOutcome, type Transport } from "./transport.js";

/** The collector refuses bodies over 1 MiB; stay well below. */
const MAX_BODY_BYTES = 900_000;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
}

export interface DispatcherOptions {
  queue: EventQueue;
  transport: Transport;
  clock: Clock;
  onError: ErrorCallback;
  /** How long an event may wait for companions before a batch goes out. */
  flushIntervalMs: number;
  /** Events per request; reaching it sends at once. */
  maxBatch: number;
  backoff: BackoffOptions;
  /**
   * Tries for a batch answered with a 5xx other than 503 (maybe a poison
   * batch). Network errors, 429 and 503 are retried for as long as the page
   * lives; the capped queue bounds what they can hold.
   */
  maxAttempts: number;
}

/**
 * Moves events from the queue to the collector: batches them, keeps one
 * request in flight, retries transient failures with backoff (the same
 * events, so the same `event_id`s) and hands leftovers to a beacon when the
 * page goes away.
 */
export class Dispatcher {
  private timer: unknown = undefined;
  private timerDue = Infinity;
  private backoffUntil = 0;
  private attempt = 0;
  private batchLimit: number;
  private inFlight = new Set<string>();
  private draining: Promise<void> | undefined;

  constructor(private readonly opts: DispatcherOptions) {
    this.batchLimit = opts.maxBatch;
    if (opts.queue.size > 0) this.schedule(0);
  }

  enqueue(event: FeedbackEvent): void {
    this.opts.queue.push(event);
    if (this.isBackingOff()) return;
    this.schedule(this.opts.queue.size >= this.opts.maxBatch ? 0 : this.opts.flushIntervalMs);
  }

  /** Sends everything queued now, unless a retry is waiting out its backoff. */
  flush(): Promise<void> {
    if (this.isBackingOff()) return this.draining ?? Promise.resolve();
    return this.drain();
  }

  /** Ends a backoff early, e.g. when the browser comes back online. */
  retryNow(): Promise<void> {
    this.backoffUntil = 0;
    return this.drain();
  }

  /**
   * The page is going away: beacon what is not already in flight (a request in
   * flight was sent with keepalive) and save the rest for the next page load.
   */
  flushOnExit(): void {
    const { queue, transport } = this.opts;
    const waiting = queue.list().filter((e) => !this.inFlight.has(e.event_id));
    const handedOver = transport.beacon(waiting);
    queue.remove(handedOver.map((e) => e.event_id));
    queue.persist();
  }

  /** Stops the timer; queued events stay in storage. */
  stop(): void {
    this.clearTimer();
    this.opts.queue.persist();
  }

  private drain(): Promise<void> {
    this.clearTimer();
    if (!this.draining) {
      this.draining = this.sendAll()
        .catch((cause: unknown) => this.opts.onError({ kind: "internal", message: "delivery failed", cause }))
        .finally(() => {
          this.draining = undefined;
        });
    }
    return this.draining;
  }

  private async sendAll(): Promise<void> {
    const { queue, transport } = this.opts;
    while (queue.size > 0) {
      const candidates = queue.list().slice(0, this.batchLimit);
      const batch = chunkByBytes(candidates, MAX_BODY_BYTES)[0] ?? [];
      batch.forEach((e) => this.inFlight.add(e.event_id));
      let outcome: SendOutcome;
      try {
        outcome = await transport.send(batch);
      } finally {
        this.inFlight.clear();
      }
      if (!this.handle(outcome, batch)) return;
    }
  }

  /** Applies one outcome; returns whether to go on sending. */
  private handle(outcome: SendOutcome, batch: FeedbackEvent[]): boolean {
    const { queue, onError } = this.opts;
    const ids = batch.map((e) => e.event_id);
    switch (outcome.kind) {
      case "ok":
        queue.remove(ids);
        this.attempt = 0;
        this.batchLimit = this.opts.maxBatch;
        for (const r of outcome.rejected) {
          onError({ kind: "rejected", message: r.errors.join("; ") || "rejected", events: [r.event], errors: r.errors });
        }
        return true;
      case "too_large":
        if (batch.length > 1) {
          this.batchLimit = Math.ceil(batch.length / 2);
          return true;
        }
        queue.remove(ids);
        onError({ kind: "dropped", status: outcome.status, message: "event too large for the collector", events: batch });
        return true;
      case "drop":
        queue.remove(ids);
        this.attempt = 0;
        onError({ kind: "dropped", status: outcome.status, message: outcome.message, events: batch });
        return true;
      case "retry":
        return this.retryLater(outcome, batch);
    }
  }

  private retryLater(outcome: Extract<SendOutcome, { kind: "retry" }>, batch: FeedbackEvent[]): boolean {
    const { clock, onError } = this.opts;
    this.attempt++;
    const { status } = outcome;
    const persistent = status === undefined || status === 429 || status === 503;
    if (!persistent && this.attempt > this.opts.maxAttempts) {
      this.opts.queue.remove(batch.map((e) => e.event_id));
      this.attempt = 0;
      onError({ kind: "dropped", status, message: `gave up after ${this.opts.maxAttempts} attempts`, events: batch });
      return true;
    }
    const delay = retryDelay(this.attempt, outcome.retryAfterMs, this.opts.backoff, clock.random);
    this.backoffUntil = clock.now() + delay;
    this.schedule(delay, true);
    const error = {
      kind: "retrying" as const,
      message: status === undefined ? "network error" : `collector answered ${status}`,
      events: batch,
      cause: outcome.cause,
    };
    onError(status === undefined ? error : { ...error, status });
    return false;
  }

  private isBackingOff(): boolean {
    return this.backoffUntil > this.opts.clock.now();
  }

  /** Arms the timer for `delay` ms unless it already fires sooner (or `force`). */
  private schedule(delay: number, force = false): void {
    const { clock } = this.opts;
    const due = clock.now() + delay;
    if (!force && this.timer !== undefined && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.backoffUntil = 0;
      void this.drain();
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }
}
