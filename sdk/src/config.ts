import { type Consent, checkConsent } from "./consent.js";
import type { BackoffOptions } from "./delivery/backoff.js";
import type { Clock } from "./delivery/dispatcher.js";
import type { StorageLike } from "./delivery/queue.js";
import type { BeaconLike, FetchLike } from "./delivery/transport.js";
import type { ErrorCallback } from "./types.js";
import { uuid } from "./uuid.js";
import type { LabelOverrides } from "./widget/labels.js";

export interface FeedbackConfig {
  /** Collector origin (and optional path prefix), e.g. `https://feedback.example.com`. */
  endpoint: string;
  /** A `public` key (`pk_...`): safe in a browser, may only write events. */
  publicKey: string;
  /** The signed-in user, if any (`undefined` while nobody is signed in). */
  userId?: string | undefined;
  sessionId?: string;
  /**
   * Who rates when there is no `userId`: sent as `anonymous_id` with every event then. Default: an
   * id made once per browser and kept in `localStorage` (in memory where storage is unavailable).
   */
  anonymousId?: string;
  /**
   * What the person agreed to (default `"all"`): `"explicit"` sends only thumbs, ratings and
   * comments; `"none"` sends nothing and writes nothing to storage. Start with `"explicit"` or
   * `"none"` where implicit tracking needs consent, then call `setConsent()` when it is given.
   */
  consent?: Consent;
  /**
   * Longest time an unsent event carrying a comment or edited text stays in the offline queue's
   * storage, ms (default 24 h); older ones are dropped (reported as `dropped`).
   */
  maxStoredTextMs?: number;
  /** Everything that goes wrong lands here; the SDK never throws into the page after start. */
  onError?: ErrorCallback;

  /** Max wait before queued events are sent, ms (default 1000). */
  flushIntervalMs?: number;
  /** Events per request; reaching it sends at once (default 50). */
  maxBatch?: number;
  /** Offline queue cap; the oldest events are dropped beyond it (default 500). */
  maxQueue?: number;
  /** Tries for a batch that keeps failing with a 5xx other than 503 (default 8). */
  maxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  /** Where the offline queue lives (default `localStorage`; `null` = memory only). */
  storage?: StorageLike | null;
  storageKey?: string;

  /** Render the thumbs widget under attached messages (default true). */
  widget?: boolean;
  /** Prefix of every CSS class and custom property (default `fb`). */
  classPrefix?: string;
  /** Add the default stylesheet to the page (default true). */
  injectStyles?: boolean;
  labels?: LabelOverrides;
  /** Show the optional comment box after a thumb is chosen (default true). */
  commentBox?: boolean;
  /** Show a copy button in the widget (default true). */
  copyButton?: boolean;
  /** Quiet time after the last widget click before the rating is sent, ms (default 4000). */
  commitDelayMs?: number;
  /** Show a 1–5 rating control next to the thumbs; sends `rating` events (default false). */
  rating?: boolean;
  /** Wait after a response completes before showing the widget, ms (default 2000; 0 = at once). */
  showDelayMs?: number;

  /** Send `copy` when text of an attached message is copied (default true). */
  trackCopy?: boolean;
  /** Send `dwell` with the on-screen time of attached messages (default true). */
  trackDwell?: boolean;
  /** Smallest dwell worth an event, ms (default 1000; smaller spans add up). */
  minDwellMs?: number;
  /** Send `abandon` when the page is left while a response streams (default true). */
  trackAbandon?: boolean;

  /** The window to work in (default the global one); for tests and iframes. */
  window?: Window;
  fetch?: FetchLike;
  /** `null` disables beacons: leftovers wait in storage for the next page load. */
  sendBeacon?: BeaconLike | null;
  clock?: Partial<Clock>;
}

export type ResolvedConfig = Required<
  Omit<FeedbackConfig, "userId" | "sessionId" | "anonymousId" | "consent" | "backoff" | "storage" | "window" | "sendBeacon" | "clock" | "labels">
> & {
  userId: string | undefined;
  sessionId: string | undefined;
  /** As configured; else made (and stored) at the first event that needs it. */
  anonymousId: string | undefined;
  consent: Consent;
  backoff: BackoffOptions;
  storage: StorageLike | undefined;
  window: Window | undefined;
  sendBeacon: BeaconLike | undefined;
  clock: Clock;
  labels: LabelOverrides;
};

/** Fills in defaults and checks what would make every later call fail. */
export function resolveConfig(config: FeedbackConfig): ResolvedConfig {
  if (!config || typeof config.endpoint !== "string" || typeof config.publicKey !== "string" || !config.publicKey) {
    throw new TypeError("feedback: `endpoint` and `publicKey` are required");
  }
  const prefix = config.classPrefix ?? "fb";
  if (!/^[A-Za-z][\w-]*$/.test(prefix)) throw new TypeError(`feedback: invalid classPrefix ${JSON.stringify(prefix)}`);
  const win = config.window ?? (typeof window === "undefined" ? undefined : window);
  const timers = win ?? globalThis;
  const nav = win?.navigator;
  const storage = config.storage === null ? undefined : config.storage ?? defaultStorage(win);
  return {
    endpoint: config.endpoint,
    publicKey: config.publicKey,
    userId: config.userId,
    sessionId: config.sessionId,
    anonymousId: config.anonymousId || undefined,
    consent: config.consent === undefined ? "all" : checkConsent(config.consent, "consent"),
    maxStoredTextMs: Math.max(0, config.maxStoredTextMs ?? 24 * 3600 * 1000),
    onError: config.onError ?? (() => {}),
    flushIntervalMs: config.flushIntervalMs ?? 1000,
    maxBatch: clampInt(config.maxBatch ?? 50, 1, 1000),
    maxQueue: clampInt(config.maxQueue ?? 500, 1, 10_000),
    maxAttempts: clampInt(config.maxAttempts ?? 8, 1, 1000),
    backoff: { baseMs: 1000, maxMs: 60_000, ...config.backoff },
    storage,
    storageKey: config.storageKey ?? `feedback-sdk:v1:${config.publicKey}`,
    widget: config.widget ?? true,
    classPrefix: prefix,
    injectStyles: config.injectStyles ?? true,
    labels: config.labels ?? {},
    commentBox: config.commentBox ?? true,
    copyButton: config.copyButton ?? true,
    commitDelayMs: config.commitDelayMs ?? 4000,
    rating: config.rating ?? false,
    showDelayMs: Math.max(0, config.showDelayMs ?? 2000),
    trackCopy: config.trackCopy ?? true,
    trackDwell: config.trackDwell ?? true,
    minDwellMs: config.minDwellMs ?? 1000,
    trackAbandon: config.trackAbandon ?? true,
    window: win,
    fetch: config.fetch ?? ((url, init) => fetch(url, init)),
    sendBeacon:
      config.sendBeacon === null
        ? undefined
        : config.sendBeacon ?? (nav && typeof nav.sendBeacon === "function" ? (u, d) => nav.sendBeacon(u, d) : undefined),
    clock: {
      now: () => Date.now(),
      setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
      clearTimeout: (handle) => timers.clearTimeout(handle as number),
      random: Math.random,
      ...config.clock,
    },
  };
}

function clampInt(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(value)));
}

/** The browser's anonymous rater id: kept under one key for every key and page of the origin. */
export const ANONYMOUS_ID_KEY = "feedback-sdk:anonymous-id";
const MAX_ID = 128; // docs/contract.md §4: ids are strings of at most 128 characters
let inMemoryAnonymousId: string | undefined;

/** The id stored in `storage`, or a new one stored there; in memory (this page) if storage fails. */
export function anonymousId(storage: StorageLike | undefined): string {
  try {
    const kept = storage?.getItem(ANONYMOUS_ID_KEY);
    if (kept && kept.length <= MAX_ID) return kept;
    const made = uuid();
    if (!storage) return (inMemoryAnonymousId ??= made);
    storage.setItem(ANONYMOUS_ID_KEY, made);
    return made;
  } catch {
    return (inMemoryAnonymousId ??= uuid()); // Storage that throws (quota, privacy modes): this page only.
  }
}

function defaultStorage(win: Window | undefined): StorageLike | undefined {
  try {
    return win?.localStorage ?? undefined;
  } catch {
    return undefined; // Sandboxed iframes and some privacy modes throw on access.
  }
}
