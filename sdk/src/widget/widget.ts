import { reasonsFor } from "../reasons.js";
import { h } from "./dom.js";
import type { WidgetLabels } from "./labels.js";
import { type Direction, RatingState, type RatingSnapshot } from "./rating.js";

export interface WidgetConfig {
  /** Class prefix: `fb` gives `fb-widget`, `fb-thumb`, … */
  prefix: string;
  labels: WidgetLabels;
  commentBox: boolean;
  copyButton: boolean;
  /** Quiet time after the last click before a rating is sent, so one decision = one event. */
  commitDelayMs: number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WidgetCallbacks {
  onRating(rating: RatingSnapshot, comment: string | undefined): void;
  onComment(text: string): void;
  /** The copy button; resolves whether the text reached the clipboard. */
  onCopy(): Promise<boolean>;
}

/**
 * 👍/👎 buttons with reason chips and an optional comment box. Real buttons
 * with `aria-pressed`, so keyboard and screen readers work as with any
 * toggle. Hidden until {@link setReady}, i.e. until the response has
 * finished streaming.
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
  private chipsFor: Direction | null = null;
  private timer: unknown = undefined;

  constructor(
    private readonly doc: Document,
    private readonly config: WidgetConfig,
    private readonly callbacks: WidgetCallbacks,
  ) {
    const { labels } = config;
    const c = (name: string) => `${config.prefix}-${name}`;
    const thumb = (dir: Direction, emoji: string) =>
      h(doc, "button", {
        type: "button",
        class: `${c("thumb")} ${c(`thumb--${dir}`)}`,
        "data-action": dir,
        "aria-pressed": "false",
        "aria-label": labels[dir],
        title: labels[dir],
      }, [h(doc, "span", { "aria-hidden": "true" }, [emoji])]);
    this.thumbs = { up: thumb("up", "👍"), down: thumb("down", "👎") };
    this.status = h(doc, "span", { class: c("status"), role: "status", "aria-live": "polite" });
    const copy = config.copyButton
      ? [h(doc, "button", { type: "button", class: c("copy"), "data-action": "copy" }, [labels.copy])]
      : [];
    const bar = h(doc, "div", { class: c("bar") }, [this.thumbs.up, this.thumbs.down, ...copy, this.status]);

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

  /** Shows the widget (true) or hides it while the response streams (false). */
  setReady(ready: boolean): void {
    this.root.hidden = !ready;
  }

  /**
   * Sends the pending rating now. `comment` is given when the user submits
   * the comment box; a comment without a new rating becomes a `comment` event.
   */
  commit(comment?: string): void {
    this.clearTimer();
    const rating = this.state.commit();
    if (rating) this.callbacks.onRating(rating, comment || undefined);
    else if (comment) this.callbacks.onComment(comment);
    if (comment !== undefined) {
      if (this.input) this.input.value = "";
      this.panel.hidden = true;
    }
    if ((rating && rating.value !== "none") || comment) this.say(this.config.labels.thanks);
  }

  destroy(): void {
    this.clearTimer();
    this.root.remove();
  }

  private onClick(event: Event): void {
    const button = (event.target as Element | null)?.closest?.("button");
    if (!button || !this.root.contains(button)) return;
    const action = button.getAttribute("data-action");
    const reason = button.getAttribute("data-reason");
    if (action === "up" || action === "down") {
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
    this.panel.hidden = choice === null;
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
