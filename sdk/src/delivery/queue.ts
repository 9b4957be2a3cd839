import type { FeedbackEvent } from "../types.js";

/** The subset of `Storage` the queue needs (localStorage in a browser). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface QueueOptions {
  /** Most events kept, in memory and in storage; the oldest are dropped first. */
  max: number;
  storage?: StorageLike | undefined;
  storageKey: string;
  onOverflow: (dropped: FeedbackEvent[]) => void;
  onStorageError: (error: unknown) => void;
  /** Longest an unsent comment or edited text may stay in storage, ms (default: no limit). */
  maxTextAgeMs?: number;
  now?: () => number;
  /** Events dropped because their text waited longer than `maxTextAgeMs`. */
  onExpired?: (dropped: FeedbackEvent[]) => void;
}

/**
 * Events waiting for an acknowledgement, oldest first, mirrored into storage
 * so that a closed tab or an offline spell loses nothing: whatever is left is
 * picked up by the next page load with the same storage key.
 *
 * Storage is merged rather than overwritten, so tabs sharing it do not erase
 * each other's backlog; a resend from two tabs is harmless because the
 * collector deduplicates on `event_id`.
 */
export class EventQueue {
  private events: FeedbackEvent[] = [];
  private removedSincePersist = new Set<string>();
  private persistPending = false;

  constructor(private readonly opts: QueueOptions) {
    this.events = this.cap(this.unexpired(this.readStored()));
  }

  get size(): number {
    return this.events.length;
  }

  /** Oldest first; the array is a copy. */
  list(): FeedbackEvent[] {
    return this.events.slice();
  }

  push(...events: FeedbackEvent[]): void {
    const known = new Set(this.events.map((e) => e.event_id));
    for (const e of events) if (!known.has(e.event_id)) this.events.push(e);
    this.events = this.cap(this.events);
    this.schedulePersist();
  }

  /** Forgets events for good: acknowledged, rejected or handed to a beacon. */
  remove(ids: Iterable<string>): void {
    const gone = new Set(ids);
    if (gone.size === 0) return;
    for (const id of gone) this.removedSincePersist.add(id);
    this.events = this.events.filter((e) => !gone.has(e.event_id));
    this.schedulePersist();
  }

  /**
   * Keeps only the events `keep` accepts, here and in storage (other tabs' backlog included),
   * and writes storage at once: consent taken back leaves nothing behind.
   */
  retain(keep: (event: FeedbackEvent) => boolean): void {
    this.events = this.events.filter(keep);
    this.persistPending = false;
    const { storage, storageKey } = this.opts;
    if (!storage) return;
    try {
      if (storage.getItem(storageKey) === null) return; // nothing stored: write nothing
    } catch (error) {
      this.opts.onStorageError(error);
      return;
    }
    const mine = new Set(this.events.map((e) => e.event_id));
    const others = this.readStored().filter((e) => keep(e) && !mine.has(e.event_id));
    this.write(others.concat(this.events));
  }

  /** Writes the queue to storage now (also called before the page goes away). */
  persist(): void {
    this.persistPending = false;
    const { storage } = this.opts;
    if (!storage) return;
    const mine = new Set(this.events.map((e) => e.event_id)); // before expiry: reported once
    this.events = this.unexpired(this.events);
    const others = this.unexpired(
      this.readStored().filter((e) => !mine.has(e.event_id) && !this.removedSincePersist.has(e.event_id)),
    );
    this.removedSincePersist.clear();
    const merged = others.concat(this.events);
    this.write(merged.slice(Math.max(0, merged.length - this.opts.max)));
  }

  private write(events: FeedbackEvent[]): void {
    try {
      this.opts.storage?.setItem(this.opts.storageKey, JSON.stringify(events));
    } catch (error) {
      this.opts.onStorageError(error);
    }
  }

  /** Drops the events whose comment or edited text has waited longer than allowed. */
  private unexpired(events: FeedbackEvent[]): FeedbackEvent[] {
    const { maxTextAgeMs, now } = this.opts;
    if (maxTextAgeMs === undefined || !now) return events;
    const oldest = now() - maxTextAgeMs;
    const expired = events.filter((e) => hasText(e) && e.timestamp < oldest);
    if (expired.length === 0) return events;
    const gone = new Set(expired.map((e) => e.event_id));
    this.opts.onExpired?.(expired);
    return events.filter((e) => !gone.has(e.event_id));
  }

  private schedulePersist(): void {
    if (this.persistPending || !this.opts.storage) return;
    this.persistPending = true;
    void Promise.resolve().then(() => {
      if (this.persistPending) this.persist();
    });
  }

  private cap(events: FeedbackEvent[]): FeedbackEvent[] {
    const excess = events.length - this.opts.max;
    if (excess <= 0) return events;
    const dropped = events.slice(0, excess);
    for (const e of dropped) this.removedSincePersist.add(e.event_id);
    this.opts.onOverflow(dropped);
    return events.slice(excess);
  }

  private readStored(): FeedbackEvent[] {
    const { storage, storageKey } = this.opts;
    if (!storage) return [];
    try {
      const parsed: unknown = JSON.parse(storage.getItem(storageKey) ?? "[]");
      return Array.isArray(parsed) ? parsed.filter(isEvent) : [];
    } catch (error) {
      this.opts.onStorageError(error);
      return [];
    }
  }
}

/** Whether the event carries text the person typed (a comment or their edit of the answer). */
function hasText(event: FeedbackEvent): boolean {
  return typeof event.comment === "string" || typeof event.edited_text === "string";
}

function isEvent(value: unknown): value is FeedbackEvent {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Partial<FeedbackEvent>;
  return typeof e.event_id === "string" && typeof e.type === "string";
}
