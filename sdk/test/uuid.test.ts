import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uuid } from "../src/uuid.js";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuid", () => {
  it("makes distinct v4 UUIDs", () => {
    const ids = Array.from({ length: 100 }, uuid);
    assert.ok(ids.every((id) => V4.test(id)));
    assert.equal(new Set(ids).size, 100);
  });

  it("falls back to getRandomValues without crypto.randomUUID", () => {
    const original = Object.getOwnPropertyDescriptor(globalThis, "crypto")!;
    const { getRandomValues } = globalThis.crypto;
    Object.defineProperty(globalThis, "crypto", {
      value: { getRandomValues: getRandomValues.bind(globalThis.crypto) },
      configurable: true,
    });
    try {
      const ids = Array.from({ length: 100 }, uuid);
      assert.ok(ids.every((id) => V4.test(id)), ids[0]);
      assert.equal(new Set(ids).size, 100);
    } finally {
      Object.defineProperty(globalThis, "crypto", original);
    }
  });
});
