import { levenshtein } from "./levenshtein.js";
import { countChars } from "./tracking/copy.js";
import { DwellTimer } from "./tracking/dwell.js";
import type { EventFields, EventType, FeedbackEvent, MessageIds } from "./types.js";
import type { WidgetConfig } from "./widget/widget.js";
import { ThumbsWidget } from "./widget/widget.js";

export interface AttachOptions extends Partial<MessageIds> {
  /** The response is still streaming: the widget stays hidden until {@link MessageHandle.markComplete}. */
  streaming?: boolean;
  /** Show the thumbs widget for this message (default: the client's `widget` option). */
  widget?: boolean;
  /** Element the widget is appended to; default: inserted right after the message element. */
  container?: Element;
  /** The response text, for edit distance and the copy button; default: the element's text. */
  text?: string | (() => string);
}

/** What a message needs from its client. */
export interface MessageContext {
  emit(type: EventType, ids: MessageIds, fields: EventFields): FeedbackEvent | undefined;
  widget: WidgetConfig | undefined;
  now(): number;
  pageVisible(): boolean;
  trackDwell: boolean;
  /** Next regenerate attempt number for this turn. */
  nextAttempt(ids: MessageIds): number;
  writeClipboard: ((text: string) => Promise<void>) | undefined;
}

/** One attached assistant message: its widget, its implicit signals and its ids. */
export class MessageHandle {
  private streamingNow: boolean;
  private readonly widget: ThumbsWidget | undefined;
  private readonly dwell: DwellTimer | undefined;
  private completedText: string | undefined;

  constructor(
    readonly element: Element,
    readonly ids: MessageIds,
    private readonly options: AttachOptions,
    private readonly ctx: MessageContext,
  ) {
    this.streamingNow = options.streaming ?? false;
    if (ctx.widget && options.widget !== false) {
      this.widget = new ThumbsWidget(element.ownerDocument, ctx.widget, {
        onRating: ({ value, reasons }, comment) =>
          this.track("thumbs", { value, reasons: reasons.length > 0 ? reasons : undefined, comment }),
        onStars: (value, comment) => this.track("rating", { value, comment }),
        onComment: (comment) => this.track("comment", { comment }),
        onCopy: () => this.copy(),
      });
      if (options.container) options.container.append(this.widget.root);
      else element.after(this.widget.root);
    }
    if (ctx.trackDwell) this.dwell = new DwellTimer(element, ctx.now, ctx.pageVisible());
    if (this.streamingNow) this.markStreaming();
    else this.markComplete();
  }

  get streaming(): boolean {
    return this.streamingNow;
  }

  /** The response is (again) streaming: hides the widget. */
  markStreaming(): void {
    this.streamingNow = true;
    this.completedText = undefined;
    this.element.setAttribute("aria-busy", "true");
    this.widget?.setReady(false);
  }

  /** The response has finished: shows the widget and remembers the final text. */
  markComplete(): void {
    this.streamingNow = false;
    this.element.removeAttribute("aria-busy");
    this.completedText = this.readText();
    this.widget?.setReady(true);
  }

  /** Sends any event about this message (e.g. `rating`, `rephrase`). */
  track(type: EventType, fields: EventFields = {}): FeedbackEvent | undefined {
    return this.ctx.emit(type, this.ids, fields);
  }

  /**
   * The user used a draft derived from this response after editing it: sends
   * `edit` with the final text and its Levenshtein distance to the response.
   */
  edit(finalText: string, originalText: string = this.text()): FeedbackEvent | undefined {
    return this.track("edit", { edited_text: finalText, edit_distance: levenshtein(originalText, finalText) });
  }

  /** The user asked for another answer instead of this one. */
  regenerate(attempt: number = this.ctx.nextAttempt(this.ids)): FeedbackEvent | undefined {
    return this.track("regenerate", { attempt });
  }

  /**
   * Copies the response to the clipboard and sends `copy`. Without the async
   * clipboard API it selects the text and copies it the old way; the page's
   * copy listener then sends the event.
   */
  async copy(): Promise<boolean> {
    const text = this.text();
    if (this.ctx.writeClipboard) {
      try {
        await this.ctx.writeClipboard(text);
        this.reportCopy(countChars(text));
        return true;
      } catch {
        // Permission refused or no focus: fall through to the selection copy.
      }
    }
    return copyBySelection(this.element);
  }

  /** @internal A copy of this message's text was seen. */
  reportCopy(copiedChars: number): void {
    this.track("copy", { copied_chars: copiedChars });
  }

  /** @internal Sends the pending rating now (the page may be going away). */
  commitPending(): void {
    this.widget?.commit();
  }

  /** @internal Sends the visible time gathered so far, if at least `minMs`. */
  reportDwell(minMs: number): void {
    const ms = this.dwell?.take(minMs) ?? 0;
    if (ms > 0) this.track("dwell", { dwell_ms: ms });
  }

  /** @internal */
  setPageVisible(visible: boolean): void {
    this.dwell?.setPageVisible(visible);
  }

  /** @internal Sends what is pending and removes the widget and observers. */
  detach(minDwellMs: number): void {
    this.commitPending();
    this.reportDwell(minDwellMs);
    this.dwell?.stop();
    this.widget?.destroy();
  }

  private text(): string {
    return this.completedText ?? this.readText();
  }

  private readText(): string {
    const { text } = this.options;
    if (typeof text === "function") return text();
    if (typeof text === "string") return text;
    const el = this.element as HTMLElement;
    return (typeof el.innerText === "string" ? el.innerText : el.textContent) ?? "";
  }
}

function copyBySelection(el: Element): boolean {
  const doc = el.ownerDocument;
  const selection = doc.getSelection();
  if (!selection) return false;
  const range = doc.createRange();
  range.selectNodeContents(el);
  selection.removeAllRanges();
  selection.addRange(range);
  try {
    return doc.execCommand("copy");
  } catch {
    return false;
  } finally {
    selection.removeAllRanges();
  }
}
