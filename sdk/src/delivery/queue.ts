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
    this.events = this.cap(this.readStored());
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

  /** Writes the queue to storage now (also called before the page goes away). */
  persist(): void {
    this.persistPending = false;
    const { storage, storageKey } = this.opts;
    if (!storage) return;
    const mine = new Set(this.events.map((e) => e.event_id));
    const others = this.readStored().filter(
      (e) => !mine.has(e.event_id) && !this.removedSincePersist.has(e.event_id),
    );
    this.removedSincePersist.clear();
    const merged = others.concat(this.events);
    const kept = merged.slice(Math.max(0, merged.length - this.opts.max));
    try {
      storage.setItem(storageKey, JSON.stringify(kept));
    } catch (error) {
      this.opts.onStorageError(error);
    }
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

function isEvent(value: unknown): value is FeedbackEvent {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Partial<FeedbackEvent>;
  return typeof e.event_id === "string" && typeof e.type === "string";
}
