import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DwellTimer } from "../src/tracking/dwell.js";
import { dom, FakeClock } from "./helpers.js";

type Callback = (entries: Array<Partial<IntersectionObserverEntry>>) => void;

/** A window whose IntersectionObserver the test drives by hand. */
function setup() {
  const { window } = dom();
  let callback: Callback = () => {};
  (window as unknown as { IntersectionObserver: unknown }).IntersectionObserver = class {
    constructor(cb: Callback) {
      callback = cb;
    }
    observe() {}
    disconnect() {}
  };
  const el = window.document.createElement("div");
  window.document.body.append(el);
  const clock = new FakeClock();
  const timer = new DwellTimer(el, clock.now, true);
  const viewport = { height: 800 } as DOMRectReadOnly;
  const entry = (ratio: number, height = ratio * 400) => callback([
    { isIntersecting: ratio > 0, intersectionRatio: ratio, rootBounds: viewport, intersectionRect: { height } as DOMRectReadOnly },
  ]);
  return { clock, timer, entry };
}

describe("DwellTimer", () => {
  it("counts only while at least half the element is on screen and the page is visible", async () => {
    const { clock, timer, entry } = setup();
    await clock.advance(1000); // not yet observed on screen
    entry(0.6);
    await clock.advance(2000);
    entry(0.3); // mostly scrolled away
    await clock.advance(1000);
    entry(1);
    await clock.advance(500);
    timer.setPageVisible(false);
    await clock.advance(4000);
    assert.equal(timer.take(), 2500);
    assert.equal(timer.take(), 0);
  });

  it("counts a tall element that fills half the viewport", async () => {
    const { clock, timer, entry } = setup();
    entry(0.2, 600);
    await clock.advance(1500);
    assert.equal(timer.take(), 1500);
  });

  it("keeps spans below the minimum for the next take", async () => {
    const { clock, timer, entry } = setup();
    entry(1);
    await clock.advance(400);
    assert.equal(timer.take(1000), 0);
    await clock.advance(700);
    assert.equal(timer.take(1000), 1100);
  });
});
