import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventQueue, type QueueOptions } from "../src/delivery/queue.js";
import type { FeedbackEvent } from "../src/types.js";
import { event, MemoryStorage, settle } from "./helpers.js";

function queue(opts: Partial<QueueOptions> = {}) {
  const overflow: FeedbackEvent[] = [];
  const storageErrors: unknown[] = [];
  const q = new EventQueue({
    max: 5,
    storageKey: "q",
    onOverflow: (events) => overflow.push(...events),
    onStorageError: (e) => storageErrors.push(e),
    ...opts,
  });
  return { q, overflow, storageErrors };
}

const ids = (events: FeedbackEvent[]) => events.map((e) => e.event_id);

describe("EventQueue", () => {
  it("keeps events oldest first and ignores a repeated event_id", () => {
    const { q } = queue();
    q.push(event(1), event(2));
    q.push(event(1));
    assert.deepEqual(ids(q.list()), [event(1).event_id, event(2).event_id]);
  });

  it("drops the oldest events beyond the cap and reports them", () => {
    const { q, overflow } = queue({ max: 3 });
    q.push(event(1), event(2), event(3), event(4), event(5));
    assert.deepEqual(ids(q.list()), ids([event(3), event(4), event(5)]));
    assert.deepEqual(ids(overflow), ids([event(1), event(2)]));
  });

  it("persists to storage and a new queue picks the backlog up", async () => {
    const storage = new MemoryStorage();
    const first = queue({ storage }).q;
    first.push(event(1), event(2));
    await settle();
    const second = queue({ storage }).q;
    assert.deepEqual(ids(second.list()), ids([event(1), event(2)]));
  });

  it("removes acknowledged events from storage", async () => {
    const storage = new MemoryStorage();
    const { q } = queue({ storage });
    q.push(event(1), event(2));
    q.remove([event(1).event_id]);
    await settle();
    assert.deepEqual(ids(JSON.parse(storage.getItem("q")!)), ids([event(2)]));
  });

  it("merges with what another tab stored instead of overwriting it", async () => {
    const storage = new MemoryStorage();
    const tabA = queue({ storage }).q;
    const tabB = queue({ storage }).q;
    tabA.push(event(1));
    await settle();
    tabB.push(event(2));
    await settle();
    assert.deepEqual(ids(JSON.parse(storage.getItem("q")!)), ids([event(1), event(2)]));
  });

  it("caps storage too, dropping the oldest", async () => {
    const storage = new MemoryStorage();
    storage.setItem("q", JSON.stringify([event(1), event(2), event(3)]));
    const { q } = queue({ storage, max: 4 });
    q.push(event(4), event(5));
    await settle();
    assert.deepEqual(ids(JSON.parse(storage.getItem("q")!)), ids([event(2), event(3), event(4), event(5)]));
  });

  it("survives broken or throwing storage", () => {
    const broken = new MemoryStorage();
    broken.setItem("q", "{not json");
    const throwing = {
      getItem: () => {
        throw new Error("SecurityError");
      },
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
    };
    const a = queue({ storage: broken });
    assert.equal(a.q.size, 0);
    const b = queue({ storage: throwing });
    b.q.push(event(1));
    b.q.persist();
    assert.equal(b.q.size, 1);
    assert.ok(b.storageErrors.length >= 2);
  });
});
