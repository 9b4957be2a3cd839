import type { EventFields, EventType, FeedbackEvent, MessageIds } from "./types.js";
import { uuid } from "./uuid.js";

/** Field limits from docs/contract.md §4; longer texts are cut rather than rejected. */
const MAX_COMMENT = 4000;
const MAX_EDITED_TEXT = 32_000;

export interface Identity {
  userId?: string | undefined;
  sessionId?: string | undefined;
  /** Sent only while there is no user id: the rater is then this browser. */
  anonymousId?: string | undefined;
}

/** Ids an event needs: a full {@link MessageIds}, or just the conversation for `abandon`. */
export type EventIds = MessageIds | (Partial<MessageIds> & { conversationId: string });

/** Builds one wire event with a fresh `event_id` and the client clock as `timestamp`. */
export function makeEvent(
  type: EventType,
  ids: EventIds,
  fields: EventFields,
  identity: Identity,
  now: number,
): FeedbackEvent {
  const event: FeedbackEvent = {
    event_id: uuid(),
    type,
    timestamp: now,
    conversation_id: ids.conversationId,
  };
  setIf(event, "trace_id", ids.traceId);
  setIf(event, "message_id", ids.messageId);
  setIf(event, "response_id", ids.responseId);
  setIf(event, "turn_id", ids.turnId);
  setIf(event, "session_id", identity.sessionId);
  setIf(event, "user_id", identity.userId);
  if (!identity.userId) setIf(event, "anonymous_id", identity.anonymousId);
  for (const [key, value] of Object.entries(fields) as Array<[keyof EventFields, unknown]>) {
    if (value !== undefined) (event as unknown as Record<string, unknown>)[key] = value;
  }
  if (event.comment !== undefined) event.comment = cut(event.comment, MAX_COMMENT);
  if (event.edited_text !== undefined) event.edited_text = cut(event.edited_text, MAX_EDITED_TEXT);
  return event;
}

function setIf<K extends keyof FeedbackEvent>(event: FeedbackEvent, key: K, value: FeedbackEvent[K] | undefined): void {
  if (value !== undefined && value !== "") event[key] = value;
}

/** Cuts to `max` UTF-16 units without splitting a surrogate pair (so ≤ `max` code points too). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}
