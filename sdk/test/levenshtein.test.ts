import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { levenshtein } from "../src/levenshtein.js";

describe("levenshtein", () => {
  it("matches textbook cases", () => {
    assert.equal(levenshtein("kitten", "sitting"), 3);
    assert.equal(levenshtein("flaw", "lawn"), 2);
    assert.equal(levenshtein("", "abc"), 3);
    assert.equal(levenshtein("abc", ""), 3);
    assert.equal(levenshtein("same", "same"), 0);
  });

  it("is symmetric", () => {
    assert.equal(levenshtein("Saturday", "Sunday"), levenshtein("Sunday", "Saturday"));
  });

  it("counts code points, not UTF-16 units", () => {
    assert.equal(levenshtein("a👍b", "a👎b"), 1);
    assert.equal(levenshtein("", "👍"), 1);
  });

  it("handles a local edit in a long text quickly", () => {
    const base = "lorem ipsum dolor sit amet ".repeat(1000);
    const edited = base.slice(0, 5000) + "EDIT" + base.slice(5003);
    assert.equal(levenshtein(base, edited), 4);
  });

  it("gives up (undefined) instead of blocking on huge rewrites", () => {
    const a = "a".repeat(3000);
    const b = "b".repeat(3000);
    assert.equal(levenshtein(a, b, 1_000_000), undefined);
    assert.equal(levenshtein(a, b), 3000);
  });
});
