import { type Reason, REASON_LABELS } from "../reasons.js";

/** Every text the widget shows; pass a partial object to translate or reword. */
export interface WidgetLabels {
  group: string;
  up: string;
  down: string;
  reasonsUp: string;
  reasonsDown: string;
  comment: string;
  commentPlaceholder: string;
  send: string;
  thanks: string;
  copy: string;
  copied: string;
  /** Name of the 1–5 rating group. */
  rating: string;
  /** Name of one rating button; `{n}` is the number. */
  ratingValue: string;
  reasons: Record<Reason, string>;
}

export type LabelOverrides = Partial<Omit<WidgetLabels, "reasons">> & {
  reasons?: Partial<Record<Reason, string>>;
};

export const DEFAULT_LABELS: WidgetLabels = {
  group: "Rate this response",
  up: "Good response",
  down: "Bad response",
  reasonsUp: "What was good?",
  reasonsDown: "What went wrong?",
  comment: "Anything else? (optional)",
  commentPlaceholder: "Tell us more",
  send: "Send",
  thanks: "Thanks for your feedback",
  copy: "Copy",
  copied: "Copied",
  rating: "Rating",
  ratingValue: "{n} out of 5",
  reasons: REASON_LABELS,
};

export function resolveLabels(overrides: LabelOverrides = {}): WidgetLabels {
  const { reasons, ...rest } = overrides;
  return { ...DEFAULT_LABELS, ...rest, reasons: { ...DEFAULT_LABELS.reasons, ...reasons } };
}

export function starLabel(labels: WidgetLabels, n: number): string {
  return labels.ratingValue.replace("{n}", String(n));
}
