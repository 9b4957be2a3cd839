export { createFeedback, FeedbackClient } from "./client.js";
export type { FeedbackConfig } from "./config.js";
export type { Consent } from "./consent.js";
export type { AttachOptions } from "./message.js";
export { MessageHandle } from "./message.js";
export { levenshtein } from "./levenshtein.js";
export { REASONS, REASON_LABELS } from "./reasons.js";
export type { Reason, UpReason, DownReason } from "./reasons.js";
export type { WidgetLabels, LabelOverrides } from "./widget/labels.js";
export type { StorageLike } from "./delivery/queue.js";
export type {
  ErrorCallback,
  EventFields,
  EventType,
  FeedbackError,
  FeedbackErrorKind,
  FeedbackEvent,
  MessageIds,
  ThumbValue,
} from "./types.js";
export type { EventIds } from "./events.js";

export const VERSION = "0.1.0";
