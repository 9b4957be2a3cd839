import { REASONS } from "../reasons.js";
import type { ThumbValue } from "../types.js";

export type Direction = "up" | "down";

/** One explicit rating as sent to the collector. */
export interface RatingSnapshot {
  value: ThumbValue;
  reasons: string[];
}

/**
 * The thumbs state of one message, without any DOM: what the user has chosen
 * now, and what was last sent. A commit yields an event only when the choice
 * differs from what the collector already has, so a user who toggles back and
 * forth before settling produces one event, and taking back a choice that was
 * never sent produces none.
 */
export class RatingState {
  private current: Direction | null = null;
  private chosenReasons = new Set<string>();
  private sent: RatingSnapshot | null = null;

  get choice(): Direction | null {
    return this.current;
  }

  get reasons(): string[] {
    const dir = this.current;
    if (!dir) return [];
    return REASONS[dir].filter((code) => this.chosenReasons.has(code));
  }

  /** A click on a thumb: choose it, or take it back when it is already chosen. */
  press(dir: Direction): void {
    this.current = this.current === dir ? null : dir;
    this.chosenReasons.clear();
  }

  /** A click on a reason chip; ignored when it does not belong to the current choice. */
  toggleReason(code: string): void {
    const dir = this.current;
    if (!dir || !(REASONS[dir] as readonly string[]).includes(code)) return;
    if (this.chosenReasons.has(code)) this.chosenReasons.delete(code);
    else this.chosenReasons.add(code);
  }

  /** Whether a commit now would send something. */
  get changed(): boolean {
    const next = this.snapshot();
    const last = this.sent ?? { value: "none", reasons: [] };
    return next.value !== last.value || next.reasons.join() !== last.reasons.join();
  }

  /** Marks the current choice as sent and returns it, or null when nothing changed. */
  commit(): RatingSnapshot | null {
    if (!this.changed) return null;
    this.sent = this.snapshot();
    return this.sent;
  }

  private snapshot(): RatingSnapshot {
    return { value: this.current ?? "none", reasons: this.reasons };
  }
}
