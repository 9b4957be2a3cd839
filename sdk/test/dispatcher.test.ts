import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Dispatcher } from "../src/delivery/dispatcher.js";
import { EventQueue, type StorageLike } from "../src/delivery/queue.js";
import { type BeaconLike, type FetchLike, Transport } from "../src/delivery/transport.js";
import type { FeedbackError } from "../src/types.js";
import { accepted, event, FakeClock, fakeBeacon, fakeFetch, json, MemoryStorage } from "./helpers.js";

function setup(fetch: FetchLike, opts: { storage?: StorageLike; sendBeacon?: BeaconLike; maxQueue?: number } = {}) {
  const clock = new FakeClock();
  const errors: FeedbackError[] = [];
  const queue = new EventQueue({
    max: opts.maxQueue ?? 500,
    storage: opts.storage,
    storageKey: "q",
    onOverflow: (events) => errors.push({ kind: "overflow", message: "", events }),
    onStorageError: () => {},
  });
  const transport = new Transport({
    endpoint: "https://collector.test/",
    publicKey: "pk_test",
    fetch,
    sendBeacon: opts.sendBeacon,
    now: clock.now,
  });
  const dispatcher = new Dispatcher({
    queue,
    transport,
    clock,
    onError: (e) => errors.push(e),
    flushIntervalMs: 1000,
    maxBatch: 50,
    backoff: { baseMs: 1000, maxMs: 30_000 },
    maxAttempts: 3,
  });
  return { clock, errors, queue, dispatcher };
}

const ids = (events: Array<{ event_id: string }>) => events.map((e) => e.event_id);

describe("Dispatcher batching", () => {
  it("sends events queued within the interval as one POST /v1/events with the key as bearer", async () => {
    const api = fakeFetch((c) => accepted(c));
    const { clock, dispatcher, queue } = setup(api.fetch);
    dispatcher.enqueue(event(1));
    await clock.advance(500);
    dispatcher.enqueue(event(2));
    assert.equal(api.calls.length, 0);
    await clock.advance(500);
    assert.equal(api.calls.length, 1);
    const [call] = api.calls;
    assert.equal(call!.url, "https://collector.test/v1/events");
    assert.equal(call!.init.method, "POST");
    assert.equal((call!.init.headers as Record<string, string>)["Authorization"], "Bearer pk_test");
    assert.equal(call!.body.sent_at, clock.now());
    assert.deepEqual(ids(call!.body.events), ids([event(1), event(2)]));
    assert.equal(queue.size, 0);
  });

  it("sends at once when 50 events are queued, 50 per request", async () => {
    const api = fakeFetch((c) => accepted(c));
    const { clock, dispatcher } = setup(api.fetch);
    for (let i = 0; i < 120; i++) dispatcher.enqueue(event(i));
    await clock.advance(0);
    assert.deepEqual(api.calls.map((c) => c.body.events.length), [50, 50, 20]);
  });
});

describe("Dispatcher retries", () => {
  it("retries 503 after Retry-After with the same event ids", async () => {
    const api = fakeFetch(json(503, { error: "kafka" }, { "Retry-After": "5" }), (c) => accepted(c));
    const { clock, dispatcher, errors, queue } = setup(api.fetch);
    dispatcher.enqueue(event(1));
    dispatcher.enqueue(event(2));
    await clock.advance(1000);
    assert.equal(api.calls.length, 1);
    assert.equal(errors[0]?.kind, "retrying");
    assert.equal(errors[0]?.status, 503);
    await clock.advance(4900);
    assert.equal(api.calls.length, 1, "waits for Retry-After");
    await clock.advance(1000);
    assert.equal(api.calls.length, 2);
    assert.deepEqual(ids(api.calls[1]!.body.events), ids(api.calls[0]!.body.events));
    assert.equal(queue.size, 0);
  });

  it("backs off exponentially on network errors and keeps the ids", async () => {
    const api = fakeFetch(new TypeError("offline"), new TypeError("offline"), new TypeError("offline"), (c) =>
      accepted(c),
    );
    const { clock, dispatcher } = setup(api.fetch);
    clock.randomValue = 1; // full step: 1 s, 2 s, 4 s
    dispatcher.enqueue(event(1));
    await clock.advance(1000);
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 3; i++) {
      delays.push(clock.nextDelay());
      await clock.advance(clock.nextDelay()!);
    }
    assert.deepEqual(delays, [1000, 2000, 4000]);
    assert.equal(api.calls.length, 4);
    assert.ok(api.calls.every((c) => c.body.events[0]!.event_id === event(1).event_id));
  });

  it("does not send new events ahead of a batch waiting out its backoff", async () => {
    const api = fakeFetch(json(429, {}, { "Retry-After": "10" }), (c) => accepted(c));
    const { clock, dispatcher } = setup(api.fetch);
    dispatcher.enqueue(event(1));
    await clock.advance(1000);
    dispatcher.enqueue(event(2));
    await clock.advance(5000);
    assert.equal(api.calls.length, 1);
    await clock.advance(6000);
    assert.equal(api.calls.length, 2);
    assert.deepEqual(ids(api.calls[1]!.body.events), ids([event(1), event(2)]));
  });

  it("gives up on a batch failing with 500 after maxAttempts", async () => {
    const api = fakeFetch(json(500, {}));
    const { clock, dispatcher, errors, queue } = setup(api.fetch);
    dispatcher.enqueue(event(1));
    await clock.advance(120_000);
    assert.equal(api.calls.length, 4);
    assert.equal(queue.size, 0);
    assert.equal(errors.at(-1)?.kind, "dropped");
  });
});

describe("Dispatcher failures", () => {
  it("drops a batch on 4xx (other than 429) and reports it", async () => {
    const api = fakeFetch(json(401, { error: "unknown key" }), (c) => accepted(c));
    const { clock, dispatcher, errors, queue } = setup(api.fetch);
    dispatcher.enqueue(event(1));
    await clock.advance(1000);
    assert.equal(queue.size, 0);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.kind, "dropped");
    assert.equal(errors[0]!.status, 401);
    assert.deepEqual(ids(errors[0]!.events!), ids([event(1)]));
  });

  it("drops the items a 202 rejects, reporting their reasons", async () => {
    const api = fakeFetch((c) =>
      accepted(c, [{ index: 1, event_id: event(2).event_id, errors: ["trace_id: required"] }]),
    );
    const { clock, dispatcher, errors, queue } = setup(api.fetch);
    dispatcher.enqueue(event(1));
    dispatcher.enqueue(event(2));
    await clock.advance(1000);
    assert.equal(queue.size, 0);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.kind, "rejected");
    assert.deepEqual(errors[0]!.errors, ["trace_id: required"]);
    assert.equal(errors[0]!.events![0]!.event_id, event(2).event_id);
  });

  it("halves the batch on 413", async () => {
    let first = true;
    const api = fakeFetch((c) => {
      if (first) {
        first = false;
        return json(413, {});
      }
      return accepted(c);
    });
    const { clock, dispatcher, queue } = setup(api.fetch);
    for (let i = 0; i < 10; i++) dispatcher.enqueue(event(i));
    await clock.advance(1000);
    assert.deepEqual(api.calls.map((c) => c.body.events.length), [10, 5, 5]);
    assert.equal(queue.size, 0);
  });
});

describe("Dispatcher offline queue", () => {
  it("keeps at most maxQueue events while offline, dropping the oldest", async () => {
    const api = fakeFetch(new TypeError("offline"));
    const storage = new MemoryStorage();
    const { clock, dispatcher, errors, queue } = setup(api.fetch, { storage, maxQueue: 20 });
    for (let i = 0; i < 25; i++) dispatcher.enqueue(event(i));
    await clock.advance(10_000);
    assert.equal(queue.size, 20);
    assert.equal(queue.list()[0]!.event_id, event(5).event_id);
    assert.equal(JSON.parse(storage.getItem("q")!).length, 20);
    assert.equal(errors.filter((e) => e.kind === "overflow").flatMap((e) => e.events).length, 5);
  });

  it("sends a backlog left by an earlier page on start", async () => {
    const storage = new MemoryStorage();
    storage.setItem("q", JSON.stringify([event(1), event(2)]));
    const api = fakeFetch((c) => accepted(c));
    const { clock } = setup(api.fetch, { storage });
    await clock.advance(0);
    assert.deepEqual(ids(api.calls[0]!.body.events), ids([event(1), event(2)]));
  });
});

describe("Dispatcher on exit", () => {
  it("beacons queued events as text/plain with the key in the body", async () => {
    const api = fakeFetch((c) => accepted(c));
    const beacon = fakeBeacon();
    const storage = new MemoryStorage();
    const { clock, dispatcher, queue } = setup(api.fetch, { sendBeacon: beacon.sendBeacon, storage });
    dispatcher.enqueue(event(1));
    dispatcher.enqueue(event(2));
    dispatcher.flushOnExit();
    await beacon.done();
    assert.equal(beacon.beacons.length, 1);
    const [b] = beacon.beacons;
    assert.equal(b!.url, "https://collector.test/v1/events");
    assert.match(b!.type, /^text\/plain/);
    assert.equal(b!.body.api_key, "pk_test");
    assert.equal(b!.body.sent_at, clock.now());
    assert.deepEqual(ids(b!.body.events), ids([event(1), event(2)]));
    assert.equal(queue.size, 0);
    assert.deepEqual(JSON.parse(storage.getItem("q")!), []);
    await clock.advance(5000);
    assert.equal(api.calls.length, 0, "nothing is sent twice");
  });

  it("leaves events in storage when the beacon is refused", async () => {
    const storage = new MemoryStorage();
    const beacon = fakeBeacon(false);
    const { dispatcher } = setup(fakeFetch((c) => accepted(c)).fetch, { sendBeacon: beacon.sendBeacon, storage });
    dispatcher.enqueue(event(1));
    dispatcher.flushOnExit();
    assert.deepEqual(ids(JSON.parse(storage.getItem("q")!)), ids([event(1)]));
  });

  it("does not beacon events already in flight", async () => {
    let release: (r: Response) => void = () => {};
    const api = fakeFetch(() => new Response(null, { status: 599 }));
    const slow: FetchLike = (url, init) => {
      void api.fetch(url, init);
      return new Promise<Response>((resolve) => (release = resolve));
    };
    const beacon = fakeBeacon();
    const { clock, dispatcher } = setup(slow, { sendBeacon: beacon.sendBeacon });
    dispatcher.enqueue(event(1));
    await clock.advance(1000);
    dispatcher.enqueue(event(2));
    dispatcher.flushOnExit();
    await beacon.done();
    assert.deepEqual(ids(beacon.beacons[0]!.body.events), ids([event(2)]));
    release(json(202, { accepted: 1, rejected: [] }));
  });

  it("splits beacons to stay under the 64 KiB keepalive limit", async () => {
    const beacon = fakeBeacon();
    const { dispatcher } = setup(fakeFetch((c) => accepted(c)).fetch, { sendBeacon: beacon.sendBeacon });
    for (let i = 0; i < 6; i++) dispatcher.enqueue(event(i, { type: "edit", edited_text: "x".repeat(20_000) }));
    dispatcher.flushOnExit();
    await beacon.done();
    assert.ok(beacon.beacons.length >= 2);
    assert.equal(beacon.beacons.flatMap((b) => b.body.events).length, 6);
  });
});
