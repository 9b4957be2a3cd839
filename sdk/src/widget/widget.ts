import { reasonsFor } from "../reasons.js";
import { h } from "./dom.js";
import { icon } from "./icons.js";
import { type WidgetLabels, starLabel } from "./labels.js";
import { type Direction, RatingState, type RatingSnapshot } from "./rating.js";

export interface WidgetConfig {
  /** Class prefix: `fb` gives `fb-widget`, `fb-thumb`, … */
  prefix: string;
  labels: WidgetLabels;
  commentBox: boolean;
  copyButton: boolean;
  /** Quiet time after the last click before a rating is sent, so one decision = one event. */
  commitDelayMs: number;
  /** Show the 1–5 rating control next to the thumbs (default false). */
  ratingControl?: boolean;
  /** Wait after the response completes before the widget appears, ms (default 0 = at once). */
  showDelayMs?: number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WidgetCallbacks {
  onRating(rating: RatingSnapshot, comment: string | undefined): void;
  /** The 1–5 rating control: a `rating` event. */
  onStars(value: number, comment: string | undefined): void;
  onComment(text: string): void;
  /** The copy button; resolves whether the text reached the clipboard. */
  onCopy(): Promise<boolean>;
}

/**
 * Thumbs up/down buttons (inline SVG icons) with reason chips, an optional
 * 1–5 rating control and an optional comment box. Real buttons with
 * `aria-pressed` and accessible names, so keyboard and screen readers work as
 * with any toggle. Hidden until {@link setReady}, i.e. until the response has
 * finished streaming, and then `showDelayMs` more.
 */
export class ThumbsWidget {
  readonly root: HTMLElement;
  private readonly state = new RatingState();
  private readonly thumbs: Record<Direction, HTMLButtonElement>;
  private readonly panel: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly chips: HTMLElement;
  private readonly status: HTMLElement;
  private readonly input: HTMLTextAreaElement | undefined;
  private readonly stars: HTMLButtonElement[] = [];
  private starsChosen: number | null = null;
  private starsSent: number | null = null;
  private chipsFor: Direction | null = null;
  private timer: unknown = undefined;
  private showTimer: unknown = undefined;

  constructor(
    private readonly doc: Document,
    private readonly config: WidgetConfig,
    private readonly callbacks: WidgetCallbacks,
  ) {
    const { labels } = config;
    const c = (name: string) => `${config.prefix}-${name}`;
    const thumb = (dir: Direction) =>
      h(doc, "button", {
        type: "button",
        class: `${c("thumb")} ${c(`thumb--${dir}`)}`,
        "data-action": dir,
        "aria-pressed": "false",
        "aria-label": labels[dir],
        title: labels[dir],
      }, [icon(doc, dir, c("icon"))]);
    this.thumbs = { up: thumb("up"), down: thumb("down") };
    const rating: HTMLElement[] = [];
    if (config.ratingControl) {
      for (let n = 1; n <= 5; n++) {
        const name = starLabel(labels, n);
        this.stars.push(
          h(doc, "button", {
            type: "button",
            class: c("star"),
            "data-stars": String(n),
            "aria-pressed": "false",
            "aria-label": name,
            title: name,
          }, [icon(doc, "star", c("icon"))]),
        );
      }
      rating.push(h(doc, "span", { class: c("stars"), role: "group", "aria-label": labels.rating }, this.stars));
    }
    this.status = h(doc, "span", { class: c("status"), role: "status", "aria-live": "polite" });
    const copy = config.copyButton
      ? [h(doc, "button", { type: "button", class: c("copy"), "data-action": "copy" }, [labels.copy])]
      : [];
    const bar = h(doc, "div", { class: c("bar") }, [
      this.thumbs.up,
      this.thumbs.down,
      ...rating,
      ...copy,
      this.status,
    ]);

    this.legend = h(doc, "span", { class: c("legend") });
    this.chips = h(doc, "div", { class: c("reasons"), role: "group" });
    const panelChildren: Node[] = [this.legend, this.chips];
    if (config.commentBox) {
      this.input = h(doc, "textarea", {
        class: c("comment-input"),
        rows: "1",
        maxlength: "4000",
        placeholder: labels.commentPlaceholder,
        "aria-label": labels.comment,
      });
      panelChildren.push(
        h(doc, "form", { class: c("comment") }, [
          this.input,
          h(doc, "button", { type: "submit", class: c("send") }, [labels.send]),
        ]),
      );
    }
    this.panel = h(doc, "div", { class: c("panel"), hidden: true }, panelChildren);
    this.root = h(doc, "div", { class: c("widget"), role: "group", "aria-label": labels.group, hidden: true }, [
      bar,
      this.panel,
    ]);

    this.root.addEventListener("click", (e) => this.onClick(e));
    this.root.addEventListener("submit", (e) => {
      e.preventDefault();
      this.commit(this.input?.value.trim() ?? "");
    });
    this.input?.addEventListener("input", () => this.armTimer());
  }

  /** Shows the widget (true; after `showDelayMs`) or hides it while the response streams (false). */
  setReady(ready: boolean): void {
    if (this.showTimer !== undefined) this.config.clearTimeout(this.showTimer);
    this.showTimer = undefined;
    const delay = this.config.showDelayMs ?? 0;
    if (!ready || delay <= 0) {
      this.root.hidden = !ready;
      return;
    }
    this.showTimer = this.config.setTimeout(() => {
      this.showTimer = undefined;
      this.root.hidden = false;
    }, delay);
  }

  /**
   * Sends the pending rating now. `comment` is given when the user submits
   * the comment box; a comment without a new rating becomes a `comment` event.
   */
  commit(comment?: string): void {
    this.clearTimer();
    const rating = this.state.commit();
    const stars = this.starsChosen !== this.starsSent ? this.starsChosen : null;
    this.starsSent = this.starsChosen;
    // The comment rides on the last event of this decision.
    if (rating) this.callbacks.onRating(rating, stars ? undefined : comment || undefined);
    if (stars) this.callbacks.onStars(stars, comment || undefined);
    else if (!rating && comment) this.callbacks.onComment(comment);
    if (comment !== undefined) {
      if (this.input) this.input.value = "";
      this.panel.hidden = true;
    }
    if ((rating && rating.value !== "none") || stars || comment) this.say(this.config.labels.thanks);
  }

  destroy(): void {
    this.clearTimer();
    if (this.showTimer !== undefined) this.config.clearTimeout(this.showTimer);
    this.root.remove();
  }

  private onClick(event: Event): void {
    const button = (event.target as Element | null)?.closest?.("button");
    if (!button || !this.root.contains(button)) return;
    const action = button.getAttribute("data-action");
    const reason = button.getAttribute("data-reason");
    const stars = Number(button.getAttribute("data-stars"));
    if (stars >= 1 && stars <= 5) {
      // A rating cannot be taken back (the contract has no "none" rating): a click only changes it.
      this.starsChosen = stars;
      this.say("");
      this.render();
      this.armTimer();
    } else if (action === "up" || action === "down") {
      this.state.press(action);
      this.say("");
      this.render();
      this.armTimer();
    } else if (reason) {
      this.state.toggleReason(reason);
      this.render();
      this.armTimer();
    } else if (action === "copy") {
      void this.callbacks.onCopy().then((ok) => ok && this.say(this.config.labels.copied));
    }
  }

  private render(): void {
    const choice = this.state.choice;
    for (const dir of ["up", "down"] as const) {
      this.thumbs[dir].setAttribute("aria-pressed", String(choice === dir));
    }
    const chosenStars = this.starsChosen ?? 0;
    this.stars.forEach((star, i) => {
      star.setAttribute("aria-pressed", String(i + 1 === chosenStars));
      star.toggleAttribute("data-on", i < chosenStars);
    });
    this.panel.hidden = choice === null && (this.starsChosen === null || !this.input);
    if (choice !== this.chipsFor) this.renderChips(choice);
    const chosen = new Set(this.state.reasons);
    this.chips.querySelectorAll("button").forEach((chip) => {
      chip.setAttribute("aria-pressed", String(chosen.has(chip.getAttribute("data-reason") ?? "")));
    });
  }

  private renderChips(choice: Direction | null): void {
    const { labels, prefix } = this.config;
    this.chipsFor = choice;
    this.chips.replaceChildren();
    this.legend.textContent = "";
    if (!choice) return;
    const legend = choice === "up" ? labels.reasonsUp : labels.reasonsDown;
    this.legend.textContent = legend;
    this.chips.setAttribute("aria-label", legend);
    for (const code of reasonsFor(choice)) {
      this.chips.append(
        h(this.doc, "button", {
          type: "button",
          class: `${prefix}-chip`,
          "data-reason": code,
          "aria-pressed": "false",
        }, [labels.reasons[code]]),
      );
    }
  }

  private say(text: string): void {
    this.status.textContent = text;
  }

  private armTimer(): void {
    this.clearTimer();
    this.timer = this.config.setTimeout(() => {
      this.timer = undefined;
      this.commit();
    }, this.config.commitDelayMs);
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    this.config.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
