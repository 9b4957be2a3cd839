import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REASONS } from "../src/reasons.js";
import { DEFAULT_LABELS } from "../src/widget/labels.js";
import type { RatingSnapshot } from "../src/widget/rating.js";
import { ThumbsWidget } from "../src/widget/widget.js";
import { dom, FakeClock } from "./helpers.js";

function setup(opts: { commentBox?: boolean; ratingControl?: boolean; showDelayMs?: number } = {}) {
  const { window } = dom();
  const doc = window.document;
  const clock = new FakeClock();
  const ratings: Array<{ rating: RatingSnapshot; comment: string | undefined }> = [];
  const comments: string[] = [];
  const stars: Array<{ value: number; comment: string | undefined }> = [];
  const widget = new ThumbsWidget(
    doc,
    {
      prefix: "fb",
      labels: DEFAULT_LABELS,
      commentBox: opts.commentBox ?? true,
      copyButton: true,
      commitDelayMs: 4000,
      ratingControl: opts.ratingControl ?? false,
      showDelayMs: opts.showDelayMs ?? 0,
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
    },
    {
      onRating: (rating, comment) => ratings.push({ rating, comment }),
      onStars: (value, comment) => stars.push({ value, comment }),
      onComment: (c) => comments.push(c),
      onCopy: async () => true,
    },
  );
  doc.body.append(widget.root);
  widget.setReady(true);
  const q = <T extends Element = HTMLElement>(sel: string) => widget.root.querySelector(sel) as T;
  const thumb = (dir: "up" | "down") => q<HTMLButtonElement>(`.fb-thumb--${dir}`);
  const chip = (code: string) => q<HTMLButtonElement>(`.fb-chip[data-reason="${code}"]`);
  const chipCodes = () => [...widget.root.querySelectorAll(".fb-chip")].map((c) => c.getAttribute("data-reason"));
  const panel = () => q(".fb-panel");
  const star = (n: number) => q<HTMLButtonElement>(`.fb-star[data-stars="${n}"]`);
  return { window, doc, clock, widget, ratings, comments, stars, thumb, chip, chipCodes, panel, q, star };
}

describe("ThumbsWidget markup", () => {
  it("uses real buttons with aria-pressed inside a labelled group", () => {
    const { widget, thumb } = setup();
    assert.equal(widget.root.getAttribute("role"), "group");
    assert.equal(widget.root.getAttribute("aria-label"), DEFAULT_LABELS.group);
    for (const dir of ["up", "down"] as const) {
      assert.equal(thumb(dir).tagName, "BUTTON");
      assert.equal(thumb(dir).type, "button");
      assert.equal(thumb(dir).getAttribute("aria-pressed"), "false");
      assert.ok(thumb(dir).getAttribute("aria-label"));
    }
  });

  it("stays hidden until the response is complete", () => {
    const { widget } = setup();
    widget.setReady(false);
    assert.equal(widget.root.hidden, true);
    widget.setReady(true);
    assert.equal(widget.root.hidden, false);
  });

  it("uses no inline styles", () => {
    const { widget, thumb } = setup();
    thumb("down").click();
    assert.equal(widget.root.querySelectorAll("[style]").length, 0);
  });
});

describe("ThumbsWidget reasons", () => {
  it("shows the up reasons after 👍 and the down reasons after 👎", () => {
    const { thumb, chipCodes, panel } = setup();
    assert.equal(panel().hidden, true);
    thumb("up").click();
    assert.equal(panel().hidden, false);
    assert.deepEqual(chipCodes(), [...REASONS.up]);
    thumb("down").click();
    assert.deepEqual(chipCodes(), [...REASONS.down]);
  });

  it("toggles chips with aria-pressed", () => {
    const { thumb, chip } = setup();
    thumb("down").click();
    chip("hallucinated").click();
    assert.equal(chip("hallucinated").getAttribute("aria-pressed"), "true");
    chip("hallucinated").click();
    assert.equal(chip("hallucinated").getAttribute("aria-pressed"), "false");
  });
});

describe("ThumbsWidget events", () => {
  it("sends one thumbs event with the reasons once the user settles", async () => {
    const { clock, thumb, chip, ratings } = setup();
    thumb("down").click();
    assert.equal(thumb("down").getAttribute("aria-pressed"), "true");
    await clock.advance(2000);
    chip("too_long").click();
    chip("hallucinated").click();
    assert.equal(ratings.length, 0);
    await clock.advance(4000);
    assert.deepEqual(ratings, [{ rating: { value: "down", reasons: ["hallucinated", "too_long"] }, comment: undefined }]);
  });

  it("sends none when the active thumb is clicked again after it was sent", async () => {
    const { clock, thumb, ratings, panel } = setup();
    thumb("up").click();
    await clock.advance(4000);
    thumb("up").click();
    assert.equal(thumb("up").getAttribute("aria-pressed"), "false");
    assert.equal(panel().hidden, true);
    await clock.advance(4000);
    assert.deepEqual(
      ratings.map((r) => r.rating.value),
      ["up", "none"],
    );
  });

  it("sends nothing for a choice taken back before it was sent", async () => {
    const { clock, thumb, ratings } = setup();
    thumb("up").click();
    thumb("up").click();
    await clock.advance(10_000);
    assert.deepEqual(ratings, []);
  });

  it("sends the new value when the user switches, clearing the old reasons", async () => {
    const { clock, thumb, chip, ratings } = setup();
    thumb("up").click();
    chip("useful").click();
    await clock.advance(4000);
    thumb("down").click();
    assert.equal(thumb("up").getAttribute("aria-pressed"), "false");
    assert.equal(thumb("down").getAttribute("aria-pressed"), "true");
    await clock.advance(4000);
    assert.deepEqual(
      ratings.map((r) => r.rating),
      [
        { value: "up", reasons: ["useful"] },
        { value: "down", reasons: [] },
      ],
    );
  });

  it("sends the comment with the rating when submitted, at once", () => {
    const { thumb, chip, ratings, q, panel } = setup();
    thumb("down").click();
    chip("other").click();
    q<HTMLTextAreaElement>(".fb-comment-input").value = "  the date is wrong ";
    q<HTMLFormElement>(".fb-comment").requestSubmit();
    assert.deepEqual(ratings, [{ rating: { value: "down", reasons: ["other"] }, comment: "the date is wrong" }]);
    assert.equal(panel().hidden, true);
    assert.equal(q(".fb-status").textContent, DEFAULT_LABELS.thanks);
  });

  it("sends a later comment as a comment event, not a second rating", async () => {
    const { clock, thumb, ratings, comments, q } = setup();
    thumb("up").click();
    await clock.advance(4000);
    thumb("up").click();
    thumb("up").click();
    q<HTMLTextAreaElement>(".fb-comment-input").value = "great";
    q<HTMLFormElement>(".fb-comment").requestSubmit();
    assert.equal(ratings.length, 1);
    assert.deepEqual(comments, ["great"]);
  });

  it("commit() sends the pending rating immediately (page hide)", () => {
    const { widget, thumb, ratings } = setup();
    thumb("down").click();
    widget.commit();
    assert.equal(ratings.length, 1);
    widget.commit();
    assert.equal(ratings.length, 1);
  });
});

describe("ThumbsWidget icons", () => {
  it("draws the thumbs as inline SVG, not emoji, and names every button", () => {
    const { widget, thumb } = setup({ ratingControl: true });
    assert.doesNotMatch(widget.root.textContent ?? "", /\p{Extended_Pictographic}/u);
    for (const dir of ["up", "down"] as const) {
      const svg = thumb(dir).querySelector("svg")!;
      assert.equal(svg.namespaceURI, "http://www.w3.org/2000/svg");
      assert.equal(svg.getAttribute("aria-hidden"), "true");
      assert.equal(svg.getAttribute("focusable"), "false");
      assert.equal(thumb(dir).getAttribute("aria-label"), DEFAULT_LABELS[dir]);
    }
    for (const button of widget.root.querySelectorAll("button")) {
      const name = button.getAttribute("aria-label") ?? button.textContent?.trim();
      assert.ok(name, `a button without an accessible name: ${button.outerHTML}`);
    }
  });
});

describe("ThumbsWidget rating control", () => {
  it("is absent unless asked for", () => {
    const { widget } = setup();
    assert.equal(widget.root.querySelectorAll(".fb-star").length, 0);
  });

  it("offers five named buttons in a labelled group next to the thumbs", () => {
    const { widget, star } = setup({ ratingControl: true });
    const group = widget.root.querySelector(".fb-stars")!;
    assert.equal(group.getAttribute("role"), "group");
    assert.equal(group.getAttribute("aria-label"), DEFAULT_LABELS.rating);
    assert.equal(group.parentElement, widget.root.querySelector(".fb-bar"));
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => star(n).getAttribute("aria-label")),
      ["1 out of 5", "2 out of 5", "3 out of 5", "4 out of 5", "5 out of 5"],
    );
  });

  it("sends one rating per decision, the last value chosen", async () => {
    const { clock, stars, star } = setup({ ratingControl: true });
    star(2).click();
    star(4).click();
    assert.equal(star(4).getAttribute("aria-pressed"), "true");
    assert.equal(star(2).getAttribute("aria-pressed"), "false");
    assert.ok(star(3).hasAttribute("data-on"));
    assert.ok(!star(5).hasAttribute("data-on"));
    await clock.advance(4000);
    assert.deepEqual(stars, [{ value: 4, comment: undefined }]);
    star(4).click();
    await clock.advance(4000);
    assert.equal(stars.length, 1, "the same value again sends nothing");
  });

  it("thumbs and stars chosen together: the comment rides on the rating", () => {
    const { widget, ratings, stars, thumb, star, q } = setup({ ratingControl: true });
    thumb("up").click();
    star(5).click();
    q<HTMLTextAreaElement>(".fb-comment-input").value = "great";
    widget.commit("great");
    assert.deepEqual(ratings, [{ rating: { value: "up", reasons: [] }, comment: undefined }]);
    assert.deepEqual(stars, [{ value: 5, comment: "great" }]);
  });
});

describe("ThumbsWidget showDelayMs", () => {
  it("appears showDelayMs after the response completes", async () => {
    const { widget, clock } = setup({ showDelayMs: 2000 });
    widget.setReady(false);
    widget.setReady(true);
    assert.equal(widget.root.hidden, true);
    await clock.advance(1999);
    assert.equal(widget.root.hidden, true);
    await clock.advance(1);
    assert.equal(widget.root.hidden, false);
  });

  it("streaming again before the delay keeps it hidden", async () => {
    const { widget, clock } = setup({ showDelayMs: 2000 });
    widget.setReady(false);
    widget.setReady(true);
    widget.setReady(false);
    await clock.advance(5000);
    assert.equal(widget.root.hidden, true);
  });
});
