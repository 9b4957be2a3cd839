export interface LifecycleHandlers {
  /** The page was hidden (tab switch, minimise, mobile app switch): maybe its last chance. */
  onHidden(): void;
  /** The page is being unloaded or put into the back/forward cache. */
  onLeave(): void;
  onVisible(): void;
  onOnline(): void;
}

/** Wires page visibility, unload and connectivity to the handlers; returns an unsubscribe. */
export function watchLifecycle(win: Window, handlers: LifecycleHandlers): () => void {
  const doc = win.document;
  const onVisibility = () => {
    if (doc.visibilityState === "hidden") handlers.onHidden();
    else handlers.onVisible();
  };
  const onPageHide = () => handlers.onLeave();
  // Back from the back/forward cache; a page opened in a background tab stays hidden.
  const onPageShow = () => {
    if (doc.visibilityState !== "hidden") handlers.onVisible();
  };
  const onOnline = () => handlers.onOnline();
  doc.addEventListener("visibilitychange", onVisibility);
  win.addEventListener("pagehide", onPageHide);
  win.addEventListener("pageshow", onPageShow);
  win.addEventListener("online", onOnline);
  return () => {
    doc.removeEventListener("visibilitychange", onVisibility);
    win.removeEventListener("pagehide", onPageHide);
    win.removeEventListener("pageshow", onPageShow);
    win.removeEventListener("online", onOnline);
  };
}
