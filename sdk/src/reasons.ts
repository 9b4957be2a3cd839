/** Reason codes a thumbs event may carry, per direction (docs/contract.md §4). */
export const REASONS = {
  up: ["correct", "clear", "fast", "useful", "good_citations"],
  down: [
    "incorrect",
    "hallucinated",
    "ignored_instructions",
    "bad_tone",
    "too_long",
    "too_short",
    "missing_sources",
    "slow",
    "tool_failed",
    "other",
  ],
} as const;

export type UpReason = (typeof REASONS.up)[number];
export type DownReason = (typeof REASONS.down)[number];
export type Reason = UpReason | DownReason;

/** Default chip labels (override with the `labels.reasons` option). */
export const REASON_LABELS: Record<Reason, string> = {
  correct: "Correct",
  clear: "Clear",
  fast: "Fast",
  useful: "Useful",
  good_citations: "Good sources",
  incorrect: "Incorrect",
  hallucinated: "Made things up",
  ignored_instructions: "Ignored instructions",
  bad_tone: "Bad tone",
  too_long: "Too long",
  too_short: "Too short",
  missing_sources: "Missing sources",
  slow: "Slow",
  tool_failed: "Tool failed",
  other: "Other",
};

export function reasonsFor(value: "up" | "down"): readonly Reason[] {
  return REASONS[value];
}
