import { anonymousId, type FeedbackConfig, type ResolvedConfig, resolveConfig } from "./config.js";
import { allows, type Consent, checkConsent } from "./consent.js";
import { Dispatcher } from "./delivery/dispatcher.js";
import { EventQueue } from "./delivery/queue.js";
import { Transport } from "./delivery/transport.js";
import { type EventIds, type Identity, makeEvent } from "./events.js";
import { type AttachOptions, type MessageContext, MessageHandle } from "./message.js";
import { watchCopies } from "./tracking/copy.js";
import { watchLifecycle } from "./tracking/lifecycle.js";
import type { EventFields, EventType, FeedbackError, FeedbackEvent, MessageIds } from "./types.js";
import { resolveLabels } from "./widget/labels.js";
import { injectStyles } from "./widget/styles.js";
import type { WidgetConfig } from "./widget/widget.js";

const DATASET_IDS: Array<[keyof MessageIds, string]> = [
  ["conversationId", "conversationId"],
  ["traceId", "traceId"],
  ["messageId", "messageId"],
  ["responseId", "responseId"],
  ["turnId", "turnId"],
];

/**
 * The SDK entry point: attaches widgets and implicit tracking to assistant
 * messages and delivers their events. Create one per page.
 */
export class FeedbackClient {
  private readonly config: ResolvedConfig;
  private readonly dispatcher: Dispatcher;
  private readonly queue: EventQueue;
  private consentLevel: Consent;
  private readonly messages = new Map<Element, MessageHandle>();
  private readonly attempts = new Map<string, number>();
  private readonly identity: Identity;
  private readonly widgetConfig: WidgetConfig | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly writeClipboard: ((text: string) => Promise<void>) | undefined;

  constructor(config: FeedbackConfig) {
    const c = (this.config = resolveConfig(config));
    this.identity = { userId: c.userId, sessionId: c.sessionId, anonymousId: c.anonymousId };
    this.consentLevel = c.consent;
    const queue = (this.queue = new EventQueue({
      max: c.maxQueue,
      storage: c.storage,
      storageKey: c.storageKey,
      onOverflow: (events) => this.report({ kind: "overflow", message: `queue full, dropped ${events.length}`, events }),
      onStorageError: (cause) => this.report({ kind: "internal", message: "storage unavailable", cause }),
      maxTextAgeMs: c.maxStoredTextMs,
      now: c.clock.now,
      onExpired: (events) =>
        this.report({ kind: "dropped", message: "unsent text kept longer than maxStoredTextMs", events }),
    }));
    // What earlier pages queued is sent only if the consent given now still allows it.
    queue.retain((event) => allows(this.consentLevel, event.type));
    const transport = new Transport({
      endpoint: c.endpoint,
      publicKey: c.publicKey,
      fetch: c.fetch,
      sendBeacon: c.sendBeacon,
      now: c.clock.now,
    });
    this.dispatcher = new Dispatcher({
      queue,
      transport,
      clock: c.clock,
      onError: (e) => this.report(e),
      flushIntervalMs: c.flushIntervalMs,
      maxBatch: c.maxBatch,
      backoff: c.backoff,
      maxAttempts: c.maxAttempts,
    });
    const clipboard = c.window?.navigator.clipboard;
    this.writeClipboard = clipboard ? (text) => clipboard.writeText(text) : undefined;
    this.widgetConfig = c.widget
      ? {
          prefix: c.classPrefix,
          labels: resolveLabels(c.labels),
          commentBox: c.commentBox,
          copyButton: c.copyButton,
          commitDelayMs: c.commitDelayMs,
          ratingControl: c.rating,
          showDelayMs: c.showDelayMs,
          setTimeout: c.clock.setTimeout,
          clearTimeout: c.clock.clearTimeout,
        }
      : undefined;
    if (c.window) this.listen(c.window);
  }

  /**
   * Starts tracking an assistant message. Ids come from `options`, else from
   * the element's `data-conversation-id`, `data-trace-id`, `data-message-id`,
   * `data-response-id` and `data-turn-id`. Attaching an element again
   * replaces its earlier handle.
   */
  attach(element: Element, options: AttachOptions = {}): MessageHandle {
    this.detach(element);
    const ids = readIds(element, options);
    const missing = (["conversationId", "traceId", "messageId"] as const).filter((k) => !ids[k]);
    if (missing.length > 0) this.report({ kind: "internal", message: `attach: missing ${missing.join(", ")}` });
    const handle = new MessageHandle(element, ids, options, this.messageContext());
    this.messages.set(element, handle);
    return handle;
  }

  get(element: Element): MessageHandle | undefined {
    return this.messages.get(element);
  }

  /** Stops tracking a message (sending its pending rating and dwell time) and removes its widget. */
  detach(element: Element): void {
    this.messages.get(element)?.detach(this.config.minDwellMs);
    this.messages.delete(element);
  }

  markStreaming(element: Element): void {
    this.messages.get(element)?.markStreaming();
  }

  markComplete(element: Element): void {
    this.messages.get(element)?.markComplete();
  }

  /**
   * Sends any event; `abandon` needs only `conversationId`, every other type a full set of ids.
   * Returns nothing (and sends nothing) when the consent given does not cover the type.
   */
  track(type: EventType, ids: EventIds, fields: EventFields = {}): FeedbackEvent | undefined {
    if (!allows(this.consentLevel, type)) return undefined;
    try {
      if (!this.identity.userId && !this.identity.anonymousId) this.identity.anonymousId = anonymousId(this.config.storage);
      const event = makeEvent(type, ids, fields, this.identity, this.config.clock.now());
      this.dispatcher.enqueue(event);
      return event;
    } catch (cause) {
      this.report({ kind: "internal", message: `could not queue ${type}`, cause });
      return undefined;
    }
  }

  /** The consent currently given. */
  get consent(): Consent {
    return this.consentLevel;
  }

  /**
   * Changes what the person agreed to. Taking consent back drops every queued event it no longer
   * covers, from memory and from storage, at once (`"none"`: the whole offline queue).
   */
  setConsent(consent: Consent): void {
    try {
      this.consentLevel = checkConsent(consent, "setConsent()");
    } catch (cause) {
      this.report({ kind: "internal", message: cause instanceof Error ? cause.message : String(cause), cause });
      return;
    }
    this.queue.retain((event) => allows(this.consentLevel, event.type));
  }

  setUser(userId: string | undefined): void {
    this.identity.userId = userId;
  }

  /** Sends pending ratings and everything queued now; resolves when the collector answered. */
  flush(): Promise<void> {
    this.messages.forEach((m) => m.commitPending());
    return this.dispatcher.flush();
  }

  /** Detaches every message and stops listening; queued events stay in storage. */
  destroy(): void {
    [...this.messages.keys()].forEach((el) => this.detach(el));
    this.unsubscribe.splice(0).forEach((off) => off());
    this.dispatcher.stop();
  }

  private listen(win: Window): void {
    const doc = win.document;
    if (this.widgetConfig && this.config.injectStyles) injectStyles(doc, this.config.classPrefix);
    if (this.config.trackCopy) {
      this.unsubscribe.push(
        watchCopies(doc, (node) => this.ownerOf(node), (message, chars) => message.reportCopy(chars)),
      );
    }
    this.unsubscribe.push(
      watchLifecycle(win, {
        onHidden: () => this.safely(() => this.leave(false)),
        onLeave: () => this.safely(() => this.leave(true)),
        onVisible: () => this.messages.forEach((m) => m.setPageVisible(true)),
        onOnline: () => void this.dispatcher.retryNow(),
      }),
    );
  }

  /** The page is hidden or unloading: send what is pending, then beacon the queue. */
  private leave(unloading: boolean): void {
    for (const message of this.messages.values()) {
      message.commitPending();
      message.setPageVisible(false);
      message.reportDwell(this.config.minDwellMs);
      if (unloading && this.config.trackAbandon && message.streaming) {
        message.track("abandon", { properties: { phase: "streaming" } });
      }
    }
    this.dispatcher.flushOnExit();
  }

  private ownerOf(node: Node): MessageHandle | undefined {
    for (let n: Node | null = node; n; n = n.parentNode) {
      const handle = this.messages.get(n as Element);
      if (handle) return handle;
    }
    return undefined;
  }

  private messageContext(): MessageContext {
    return {
      emit: (type, ids, fields) => this.track(type, ids, fields),
      widget: this.widgetConfig,
      now: this.config.clock.now,
      pageVisible: () => this.config.window?.document.visibilityState !== "hidden",
      trackDwell: this.config.trackDwell,
      nextAttempt: (ids) => {
        const key = `${ids.conversationId}\u0000${ids.turnId ?? ids.messageId}`;
        const attempt = (this.attempts.get(key) ?? 0) + 1;
        this.attempts.set(key, attempt);
        return attempt;
      },
      writeClipboard: this.writeClipboard,
    };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (cause) {
      this.report({ kind: "internal", message: "lifecycle handler failed", cause });
    }
  }

  private report(error: FeedbackError): void {
    try {
      this.config.onError(error);
    } catch {
      // A failing error callback must not break the page either.
    }
  }
}

function readIds(element: Element, options: AttachOptions): MessageIds {
  const data = (element as HTMLElement).dataset ?? {};
  const ids: Partial<MessageIds> = {};
  for (const [key, dataKey] of DATASET_IDS) {
    const value = options[key] ?? data[dataKey];
    if (value) ids[key] = value;
  }
  return ids as MessageIds;
}

/** Creates the page's feedback client. Throws only on a config without `endpoint` or `publicKey`. */
export function createFeedback(config: FeedbackConfig): FeedbackClient {
  return new FeedbackClient(config);
}
