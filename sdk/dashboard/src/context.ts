import type { Params } from "./api";

/** What a section may ask of the page: the current filters, and to open the worst responses
 *  of a slice (the "one click from each chart"). */
export interface ResponsesScope {
  label: string;
  from?: string;
  to?: string;
  model_version?: string;
  prompt_version?: string;
}

export interface Context {
  key: string;
  kind: "admin" | "analyst";
  params(): Params;
  showResponses(scope: ResponsesScope): void;
  announce(message: string): void;
}

/** The bucket starting at ``t`` as from/to parameters (epoch milliseconds). */
export function bucketScope(t: number, bucket: string): { from: string; to: string } {
  const seconds = bucket === "week" ? 7 * 86400 : bucket === "day" ? 86400 : 3600;
  return { from: String(t * 1000), to: String((t + seconds) * 1000) };
}
