import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ANONYMOUS_ID_KEY, type FeedbackConfig } from "../src/config.js";
import { allows } from "../src/consent.js";
import { EventQueue } from "../src/delivery/queue.js";
import { createFeedback } from "../src/feedback.js";
import type { EventType, FeedbackError, FeedbackEvent } from "../src/types.js";
import { accepted, dom, FakeClock, fakeFetch, MemoryStorage, settle } from "./helpers.js";

const IDS = { conversationId: "conv-1", traceId: "tr-1", messageId: "msg-1" };
const ALL_TYPES: EventType[] = ["thumbs", "rating", "comment", "edit", "copy", "regenerate", "rephrase", "abandon", "dwell"];

function client(config: Partial<FeedbackConfig>) {
  const jsdom = dom("<!doctype html><html><head></head><body></body></html>");
  const clock = new FakeClock();
  const api = fakeFetch((c) => accepted(c));
  const errors: FeedbackError[] = [];
  const fb = createFeedback({
    endpoint: "https://collector.test",
    publicKey: "pk_test",
    window: jsdom.window as unknown as Window,
    fetch: api.fetch,
    sendBeacon: null,
    storage: null,
    clock,
    onError: (e) => errors.push(e),
    ...config,
  });
  const sent = (): FeedbackEvent[] => api.calls.flatMap((c) => c.body.events);
  return { fb, clock, api, sent, errors };
}

const stored = (storage: MemoryStorage): FeedbackEvent[] => JSON.parse(storage.getItem("q") ?? "[]");

describe("consent", () => {
  it("sends every type with all, thumbs/rating/comment with explicit, nothing with none", async () => {
    for (const [consent, expected] of [
      ["all", ALL_TYPES],
      ["explicit", ["thumbs", "rating", "comment"]],
      ["none", []],
    ] as const) {
      const { fb, clock, sent } = client({ consent, userId: "u-1" });
      for (const type of ALL_TYPES) fb.track(type, IDS, type === "rating" ? { value: 4 } : {});
      await clock.advance(1000);
      assert.deepEqual(sent().map((e) => e.type), expected, consent);
    }
    assert.equal(allows("explicit", "edit"), false); // edit carries the person's text: not explicit
  });

  it("defaults to all and refuses an unknown level, naming the option", () => {
    assert.equal(client({}).fb.consent, "all");
    assert.throws(() => client({ consent: "some" as never }), /consent must be one of "all", "explicit", "none", got "some"/);
    const { fb, errors } = client({});
    fb.setConsent("maybe" as never);
    assert.equal(fb.consent, "all");
    assert.match(errors[0]!.message, /setConsent\(\) must be one of/);
  });

  it("taking consent back clears the offline queue, in memory and in storage", async () => {
    const storage = new MemoryStorage();
    const api = fakeFetch(() => new Response("", { status: 503 })); // the collector is away: everything waits
    const { fb, clock } = client({ storage, storageKey: "q", fetch: api.fetch, userId: "u-1" });
    fb.track("thumbs", IDS, { value: "down", comment: "wrong capital" });
    fb.track("copy", IDS, { copied_chars: 5 });
    fb.track("dwell", IDS, { dwell_ms: 3000 });
    await settle();
    assert.deepEqual(stored(storage).map((e) => e.type), ["thumbs", "copy", "dwell"]);

    fb.setConsent("explicit");
    assert.deepEqual(stored(storage).map((e) => e.type), ["thumbs"]); // at once, no tick needed
    fb.setConsent("none");
    assert.deepEqual(stored(storage), []);
    const before = api.calls.length;
    await clock.advance(120_000);
    assert.equal(api.calls.length, before); // nothing left to send
  });

  it("a new page drops what earlier pages queued when its consent no longer covers it", async () => {
    const storage = new MemoryStorage();
    const earlier = new EventQueue({ max: 10, storage, storageKey: "q", onOverflow: () => {}, onStorageError: () => {} });
    earlier.push(event("thumbs", 1), event("copy", 2));
    await settle();
    client({ storage, storageKey: "q", consent: "explicit", fetch: fakeFetch(() => new Response("", { status: 503 })).fetch });
    assert.deepEqual(stored(storage).map((e) => e.type), ["thumbs"]);
  });

  it("with none, nothing is written to storage, not even the anonymous id", async () => {
    const storage = new MemoryStorage();
    const { fb, clock } = client({ storage, consent: "none" });
    fb.track("thumbs", IDS, { value: "up" });
    await clock.advance(1000);
    assert.equal(storage.data.size, 0);
    fb.setConsent("explicit");
    const event = fb.track("thumbs", IDS, { value: "up" });
    assert.equal(storage.getItem(ANONYMOUS_ID_KEY), event!.anonymous_id);
  });

  it("keeps an unsent comment or edited text in storage no longer than maxStoredTextMs", async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    const expired: FeedbackEvent[] = [];
    const q = new EventQueue({
      max: 10, storage, storageKey: "q", onOverflow: () => {}, onStorageError: () => {},
      maxTextAgeMs: 3_600_000, now: () => clock.now(), onExpired: (events) => expired.push(...events),
    });
    const commented = { ...event("comment", 1, clock.now()), comment: "call me at +1 202 555 0143" };
    const plain = event("copy", 2, clock.now());
    q.push(commented, plain);
    await settle();
    assert.equal(stored(storage).length, 2);
    await clock.advance(3_600_001);
    q.persist();
    assert.deepEqual(stored(storage).map((e) => e.type), ["copy"]);
    assert.deepEqual(expired.map((e) => e.event_id), [commented.event_id]);
  });
});

function event(type: EventType, n: number, timestamp = 1_700_000_000_000): FeedbackEvent {
  return { event_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`, type, timestamp, conversation_id: "conv-1" };
}
