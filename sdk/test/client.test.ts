import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createFeedback, type FeedbackConfig } from "../src/feedback.js";
import type { FeedbackError, FeedbackEvent } from "../src/types.js";
import { ANONYMOUS_ID_KEY, anonymousId } from "../src/config.js";
import { accepted, dom, FakeClock, fakeBeacon, fakeFetch, MemoryStorage } from "./helpers.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function setup(config: Partial<FeedbackConfig> = {}) {
  const jsdom = dom(`<!doctype html><html><head></head><body>
    <div id="answer" data-conversation-id="conv-7" data-trace-id="tr-1" data-message-id="msg-1">
      <p id="text">Paris is the capital of France.</p>
    </div></body></html>`);
  const window = jsdom.window as unknown as Window & typeof globalThis;
  const doc = window.document;
  const clock = new FakeClock();
  const api = fakeFetch((c) => accepted(c));
  const beacon = fakeBeacon();
  const errors: FeedbackError[] = [];
  const fb = createFeedback({
    endpoint: "https://collector.test",
    publicKey: "pk_test",
    userId: "user-1",
    sessionId: "sess-1",
    window,
    fetch: api.fetch,
    sendBeacon: beacon.sendBeacon,
    storage: null,
    clock,
    onError: (e) => errors.push(e),
    ...config,
  });
  const answer = doc.getElementById("answer")!;
  /** Every event that reached the collector, by fetch or beacon. */
  const sent = async (): Promise<FeedbackEvent[]> => {
    await beacon.done();
    return [...api.calls.flatMap((c) => c.body.events), ...beacon.beacons.flatMap((b) => b.body.events)];
  };
  const fire = (target: EventTarget, type: string) => target.dispatchEvent(new window.Event(type));
  const setVisibility = (state: "visible" | "hidden") => {
    Object.defineProperty(doc, "visibilityState", { value: state, configurable: true });
    fire(doc, "visibilitychange");
  };
  return { window, doc, clock, api, beacon, errors, fb, answer, sent, fire, setVisibility };
}

describe("FeedbackClient attach", () => {
  it("shows the widget 2 s after the response completes by default", async () => {
    const { fb, answer, clock } = setup();
    fb.attach(answer, { streaming: true });
    const widget = answer.nextElementSibling as HTMLElement;
    fb.markComplete(answer);
    assert.equal(widget.hidden, true);
    await clock.advance(2000);
    assert.equal(widget.hidden, false);
  });

  it("sends a rating event from the rating control", async () => {
    const { fb, answer, clock, sent } = setup({ rating: true, showDelayMs: 0 });
    fb.attach(answer);
    (answer.nextElementSibling!.querySelector('[data-stars="4"]') as HTMLButtonElement).click();
    await clock.advance(4000);
    await fb.flush();
    const events = await sent();
    assert.deepEqual(
      events.map((e) => [e.type, e.value, e.message_id]),
      [["rating", 4, "msg-1"]],
    );
  });

  it("reads ids from data attributes and places the widget after the message", () => {
    const { fb, answer } = setup();
    const handle = fb.attach(answer, { responseId: "resp-1" });
    assert.deepEqual(handle.ids, {
      conversationId: "conv-7",
      traceId: "tr-1",
      messageId: "msg-1",
      responseId: "resp-1",
    });
    assert.ok(answer.nextElementSibling?.classList.contains("fb-widget"));
  });

  it("hides the widget while streaming and shows it when complete", () => {
    const { fb, answer } = setup({ showDelayMs: 0 });
    fb.attach(answer, { streaming: true });
    const widget = answer.nextElementSibling as HTMLElement;
    assert.equal(widget.hidden, true);
    assert.equal(answer.getAttribute("aria-busy"), "true");
    fb.markComplete(answer);
    assert.equal(widget.hidden, false);
    fb.markStreaming(answer);
    assert.equal(widget.hidden, true);
  });

  it("injects default styles once, or not at all when asked", () => {
    const a = setup();
    a.fb.attach(a.answer);
    assert.equal(a.doc.querySelectorAll("style[data-fb-styles]").length, 1);
    assert.doesNotMatch(a.doc.head.innerHTML, /!important/);
    const b = setup({ injectStyles: false, classPrefix: "acme" });
    b.fb.attach(b.answer);
    assert.equal(b.doc.querySelectorAll("style").length, 0);
    assert.ok(b.answer.nextElementSibling?.classList.contains("acme-widget"));
  });

  it("refuses a config without a key", () => {
    assert.throws(() => createFeedback({ endpoint: "https://x.test", publicKey: "" }), TypeError);
  });
});

describe("FeedbackClient events", () => {
  it("builds events with a UUID, epoch ms timestamp, ids and identity", async () => {
    const { fb, answer, clock, sent } = setup();
    fb.attach(answer).track("rating", { value: 4 });
    await clock.advance(1000);
    const [e] = await sent();
    assert.match(e!.event_id, UUID);
    assert.equal(e!.timestamp, clock.now() - 1000);
    assert.deepEqual(
      { ...e, event_id: undefined, timestamp: undefined },
      {
        event_id: undefined,
        timestamp: undefined,
        type: "rating",
        value: 4,
        conversation_id: "conv-7",
        trace_id: "tr-1",
        message_id: "msg-1",
        session_id: "sess-1",
        user_id: "user-1",
      },
    );
  });

  it("sends copy with copied_chars when text inside the message is copied", async () => {
    const { fb, answer, doc, clock, sent, fire } = setup();
    fb.attach(answer);
    const text = doc.getElementById("text")!.firstChild!;
    const range = doc.createRange();
    range.setStart(text, 0);
    range.setEnd(text, 5);
    doc.getSelection()!.removeAllRanges();
    doc.getSelection()!.addRange(range);
    fire(text.parentNode!, "copy");
    await clock.advance(1000);
    const events = await sent();
    assert.deepEqual(
      events.map((e) => [e.type, e.copied_chars, e.message_id]),
      [["copy", 5, "msg-1"]],
    );
  });

  it("ignores copies outside attached messages", async () => {
    const { fb, answer, doc, clock, sent, fire } = setup();
    fb.attach(answer);
    const outside = doc.createElement("p");
    outside.textContent = "elsewhere";
    doc.body.append(outside);
    doc.getSelection()!.selectAllChildren(outside);
    fire(outside, "copy");
    await clock.advance(1000);
    assert.deepEqual(await sent(), []);
  });

  it("sends edit with the final text and its edit distance to the response", async () => {
    const { fb, answer, clock, sent } = setup();
    const handle = fb.attach(answer, { text: "Paris is the capital of France." });
    handle.edit("Paris is the capital city of France.");
    await clock.advance(1000);
    const [e] = await sent();
    assert.equal(e!.type, "edit");
    assert.equal(e!.edited_text, "Paris is the capital city of France.");
    assert.equal(e!.edit_distance, 5);
  });

  it("numbers regenerate attempts per turn", async () => {
    const { fb, answer, clock, sent } = setup();
    const handle = fb.attach(answer, { turnId: "turn-1" });
    handle.regenerate();
    handle.regenerate();
    handle.regenerate(7);
    await clock.advance(1000);
    assert.deepEqual(
      (await sent()).map((e) => [e.type, e.attempt]),
      [
        ["regenerate", 1],
        ["regenerate", 2],
        ["regenerate", 7],
      ],
    );
  });
});

describe("FeedbackClient page lifecycle", () => {
  it("on pagehide sends the pending rating and the queue by beacon", async () => {
    const { fb, answer, fire, window, beacon, api } = setup();
    fb.attach(answer);
    const widget = answer.nextElementSibling!;
    (widget.querySelector(".fb-thumb--down") as HTMLButtonElement).click();
    (widget.querySelector('[data-reason="hallucinated"]') as HTMLButtonElement).click();
    fire(window, "pagehide");
    await beacon.done();
    assert.equal(api.calls.length, 0);
    assert.equal(beacon.beacons.length, 1);
    assert.equal(beacon.beacons[0]!.body.api_key, "pk_test");
    const thumbs = beacon.beacons[0]!.body.events.filter((e) => e.type === "thumbs");
    assert.deepEqual(
      thumbs.map((e) => [e.value, e.reasons, e.conversation_id, e.trace_id, e.message_id]),
      [["down", ["hallucinated"], "conv-7", "tr-1", "msg-1"]],
    );
  });

  it("sends abandon when the page is left while a response streams", async () => {
    const { fb, answer, fire, window, sent } = setup();
    fb.attach(answer, { streaming: true });
    fire(window, "pagehide");
    const abandon = (await sent()).filter((e) => e.type === "abandon");
    assert.equal(abandon.length, 1);
    assert.equal(abandon[0]!.conversation_id, "conv-7");
  });

  it("does not send abandon for a finished response or a mere tab switch", async () => {
    const { fb, answer, fire, window, sent, setVisibility } = setup();
    fb.attach(answer);
    const streaming = answer.cloneNode() as HTMLElement;
    answer.after(streaming);
    fb.attach(streaming, { streaming: true, messageId: "msg-2" });
    setVisibility("hidden");
    fb.detach(streaming);
    fire(window, "pagehide");
    assert.deepEqual((await sent()).filter((e) => e.type === "abandon"), []);
  });

  it("sends dwell with the visible time when the page is hidden", async () => {
    const { fb, answer, clock, sent, setVisibility } = setup();
    fb.attach(answer);
    await clock.advance(3000);
    setVisibility("hidden");
    await clock.advance(5000);
    setVisibility("visible");
    await clock.advance(2000);
    setVisibility("hidden");
    const dwell = (await sent()).filter((e) => e.type === "dwell").map((e) => e.dwell_ms);
    assert.deepEqual(dwell, [3000, 2000]);
  });

  it("reports errors through onError and never throws into the page", async () => {
    const throwing = () => {
      throw new Error("callback broke");
    };
    const { fb, answer, fire, window } = setup({
      onError: throwing,
      sendBeacon: () => {
        throw new Error("beacon broke");
      },
    });
    fb.attach(answer, { streaming: true });
    assert.doesNotThrow(() => fire(window, "pagehide"));
  });
});

describe("FeedbackClient anonymous raters", () => {
  it("sends a persistent anonymous_id while there is no user id, and none once there is", async () => {
    const storage = new MemoryStorage();
    const { fb, answer, clock, sent } = setup({ userId: undefined, storage });
    fb.attach(answer).track("rating", { value: 4 });
    await clock.advance(1000);
    const [first] = await sent();
    assert.match(first!.anonymous_id!, UUID);
    assert.equal(first!.user_id, undefined);
    assert.equal(storage.getItem(ANONYMOUS_ID_KEY), first!.anonymous_id);

    fb.setUser("user-9");
    fb.attach(answer).track("rating", { value: 2 });
    await clock.advance(1000);
    const second = (await sent()).at(-1)!;
    assert.equal(second.user_id, "user-9");
    assert.equal(second.anonymous_id, undefined);

    // the next page load in this browser rates as the same anonymous rater
    const again = setup({ userId: undefined, storage });
    again.fb.attach(again.answer).track("rating", { value: 5 });
    await again.clock.advance(1000);
    assert.equal((await again.sent())[0]!.anonymous_id, first!.anonymous_id);
  });

  it("keeps the id in memory when storage is off or throws, and takes a given one as is", () => {
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
    };
    assert.match(anonymousId(undefined), UUID);
    assert.equal(anonymousId(undefined), anonymousId(undefined));
    assert.equal(anonymousId(broken), anonymousId(undefined));
    const { fb, answer } = setup({ userId: undefined, anonymousId: "kiosk-3" });
    const event = fb.attach(answer).track("rating", { value: 3 });
    assert.equal(event!.anonymous_id, "kiosk-3");
  });
});
