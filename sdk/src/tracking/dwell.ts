const THRESHOLDS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

/**
 * Time an element spends on screen while the page is visible. On screen
 * means at least half of it is in the viewport, or it fills at least half
 * of the viewport (long answers). Without IntersectionObserver the element
 * counts as on screen whenever the page is visible.
 */
export class DwellTimer {
  private onScreen: boolean;
  private pageVisible: boolean;
  private since: number | undefined;
  private total = 0;
  private readonly observer: IntersectionObserver | undefined;

  constructor(
    el: Element,
    private readonly now: () => number,
    pageVisible: boolean,
  ) {
    this.pageVisible = pageVisible;
    const IO = el.ownerDocument.defaultView?.IntersectionObserver;
    this.onScreen = !IO;
    if (IO) {
      this.observer = new IO((entries) => {
        const entry = entries[entries.length - 1];
        if (entry) this.setOnScreen(isOnScreen(entry));
      }, { threshold: THRESHOLDS });
      this.observer.observe(el);
    }
    this.update();
  }

  setPageVisible(visible: boolean): void {
    this.pageVisible = visible;
    this.update();
  }

  setOnScreen(onScreen: boolean): void {
    this.onScreen = onScreen;
    this.update();
  }

  /**
   * Returns the visible time gathered since the last successful take and
   * starts counting afresh, or 0 (keeping the time) when below `minMs`.
   */
  take(minMs = 0): number {
    const now = this.now();
    const ms = this.total + (this.since === undefined ? 0 : now - this.since);
    if (ms < minMs || ms <= 0) return 0;
    this.total = 0;
    if (this.since !== undefined) this.since = now;
    return Math.round(ms);
  }

  stop(): void {
    this.observer?.disconnect();
    this.pageVisible = false;
    this.update();
  }

  private update(): void {
    const running = this.onScreen && this.pageVisible;
    const now = this.now();
    if (running && this.since === undefined) this.since = now;
    if (!running && this.since !== undefined) {
      this.total += now - this.since;
      this.since = undefined;
    }
  }
}

function isOnScreen(entry: IntersectionObserverEntry): boolean {
  if (!entry.isIntersecting) return false;
  if (entry.intersectionRatio >= 0.5) return true;
  const root = entry.rootBounds;
  return root !== null && root.height > 0 && entry.intersectionRect.height >= root.height / 2;
}
