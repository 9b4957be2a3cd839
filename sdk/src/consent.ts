import type { EventType } from "./types.js";

/**
 * What the person using the page agreed to:
 * - `all`: explicit feedback and implicit signals (copy, dwell, abandon, edit, regenerate, rephrase);
 * - `explicit`: only what they give on purpose: thumbs, rating, comment;
 * - `none`: nothing is sent, and nothing is written to the browser's storage.
 */
export type Consent = "all" | "explicit" | "none";

export const CONSENT_LEVELS: readonly Consent[] = ["all", "explicit", "none"];

/** The types a person gives on purpose. `edit` is not among them: it carries the text they made
 * of the answer, watched rather than sent by them. */
const EXPLICIT: ReadonlySet<EventType> = new Set<EventType>(["thumbs", "rating", "comment"]);

export function allows(consent: Consent, type: EventType): boolean {
  return consent === "all" || (consent === "explicit" && EXPLICIT.has(type));
}

/** Throws a TypeError naming the option when `value` is not a consent level. */
export function checkConsent(value: unknown, option: string): Consent {
  if (CONSENT_LEVELS.includes(value as Consent)) return value as Consent;
  throw new TypeError(`feedback: ${option} must be one of ${CONSENT_LEVELS.map((c) => `"${c}"`).join(", ")}, got ${JSON.stringify(value)}`);
}
