/** Event types accepted by the collector (docs/contract.md §4). */
export type EventType =
  | "thumbs"
  | "rating"
  | "comment"
  | "edit"
  | "copy"
  | "regenerate"
  | "rephrase"
  | "abandon"
  | "dwell";

export type ThumbValue = "up" | "down" | "none";

/** Ids that tie an event to one LLM response. */
export interface MessageIds {
  conversationId: string;
  traceId: string;
  messageId: string;
  responseId?: string;
  turnId?: string;
}

/** Optional fields an event may carry besides its ids. */
export interface EventFields {
  value?: ThumbValue | number | undefined;
  reasons?: string[] | undefined;
  comment?: string | undefined;
  edited_text?: string | undefined;
  edit_distance?: number | undefined;
  copied_chars?: number | undefined;
  attempt?: number | undefined;
  dwell_ms?: number | undefined;
  properties?: Record<string, string> | undefined;
}

/** The wire shape of one event, as posted to `POST /v1/events`. */
export interface FeedbackEvent extends EventFields {
  event_id: string;
  type: EventType;
  /** Client clock, epoch milliseconds. */
  timestamp: number;
  conversation_id: string;
  trace_id?: string;
  message_id?: string;
  response_id?: string;
  turn_id?: string;
  session_id?: string;
  user_id?: string;
  /** The browser's own id, when there is no `user_id` (who rated, docs/contract.md §4). */
  anonymous_id?: string;
}

export type FeedbackErrorKind =
  /** The collector refused some items of an accepted batch (202 with `rejected`). */
  | "rejected"
  /** A whole batch was refused (4xx other than 429) and dropped. */
  | "dropped"
  /** The offline queue was full; the oldest events were dropped. */
  | "overflow"
  /** A transient failure (network, 429, 5xx); the batch will be retried. */
  | "retrying"
  /** Anything else that went wrong inside the SDK; swallowed so the page never breaks. */
  | "internal";

export interface FeedbackError {
  kind: FeedbackErrorKind;
  message: string;
  status?: number;
  /** The events concerned (dropped, rejected or retried). */
  events?: FeedbackEvent[];
  /** Per-item reasons from the collector, for `rejected`. */
  errors?: string[];
  cause?: unknown;
}

export type ErrorCallback = (error: FeedbackError) => void;
