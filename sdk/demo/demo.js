// A fake chat that streams canned answers and wires them to the feedback SDK.
// Served by the collector at /demo/, with the SDK build at /sdk/ on the same origin.
import { createFeedback } from "/sdk/feedback.js";

const ANSWERS = [
  "The capital of France is Paris. It has been the seat of the French government since the 10th century, " +
    "apart from a few interruptions, and today it is also the country's largest city.",
  "Paris is France's capital. Its metropolitan area holds roughly twelve million people, " +
    "about a sixth of the country's population.",
];
const QUESTION = "What is the capital of France?";

const params = new URLSearchParams(location.search);
const publicKey = params.get("key") || document.querySelector('meta[name="feedback-key"]')?.content || "";
const conversationId = params.get("conversation") || `demo-conv-${randomId()}`;
const chat = document.getElementById("chat");
const draft = document.getElementById("draft");
const status = document.getElementById("status");
document.getElementById("conversation-id").textContent = conversationId;
document.body.dataset.conversationId = conversationId;

const errors = [];
const fb = publicKey
  ? createFeedback({
      endpoint: location.origin,
      publicKey,
      sessionId: `demo-session-${randomId()}`,
      onError: (error) => {
        errors.push(error);
        if (error.kind !== "retrying") status.textContent = `feedback: ${error.kind}: ${error.message}`;
      },
    })
  : null;
if (!fb) status.textContent = "No public key: open this page with ?key=pk_... to send feedback.";

/** Where the draft in the composer came from, to report edits of it. */
let draftSource = null;

ask(QUESTION);

function ask(question) {
  const turn = el("li", "turn");
  turn.dataset.turnId = `demo-turn-${randomId()}`;
  turn.append(el("div", "message user", question));
  chat.append(turn);
  streamAnswer(turn, 1);
}

function streamAnswer(turn, attempt) {
  const answer = el("div", "message assistant");
  Object.assign(answer.dataset, {
    conversationId,
    turnId: turn.dataset.turnId,
    traceId: `demo-trace-${randomId()}`,
    messageId: `demo-msg-${randomId()}`,
    state: "streaming",
  });
  turn.append(answer);
  const handle = fb?.attach(answer, { streaming: true, responseId: `demo-resp-${randomId()}` });

  const words = ANSWERS[(attempt - 1) % ANSWERS.length].split(" ");
  let i = 0;
  const timer = setInterval(() => {
    answer.textContent += (i ? " " : "") + words[i++];
    if (i < words.length) return;
    clearInterval(timer);
    answer.dataset.state = "complete";
    handle?.markComplete();
    turn.append(actions(turn, answer, handle, attempt));
  }, 40);
}

function actions(turn, answer, handle, attempt) {
  const bar = el("div", "actions");
  const regenerate = el("button", "", "Regenerate");
  regenerate.type = "button";
  regenerate.addEventListener("click", () => {
    handle?.regenerate();
    bar.remove();
    streamAnswer(turn, attempt + 1);
  });
  const useAsDraft = el("button", "", "Use as draft");
  useAsDraft.type = "button";
  useAsDraft.addEventListener("click", () => {
    draft.value = answer.textContent;
    draftSource = { handle, text: answer.textContent };
    draft.focus();
  });
  bar.append(regenerate, useAsDraft);
  return bar;
}

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = draft.value.trim();
  if (!text) return;
  if (draftSource?.handle) draftSource.handle.edit(text, draftSource.text);
  draftSource = null;
  draft.value = "";
  ask(text);
});

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function randomId() {
  return crypto.getRandomValues(new Uint32Array(2)).reduce((s, n) => s + n.toString(36), "");
}

// For debugging and tests: the client, the conversation and what went wrong.
window.feedbackDemo = { fb, conversationId, errors };
