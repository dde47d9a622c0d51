// The local Slack page: renders what the sink recorded (Block Kit included) and follows it
// live; buttons and the message box go to the sink, which signs them and sends them to the
// local gateway as Slack would. No framework: the page must work from a plain checkout.
"use strict";

const EMOJI = {
  white_check_mark: "✅", x: "❌", warning: "⚠️", rocket: "🚀", raised_hand: "✋",
  hourglass: "⏳", hourglass_flowing_sand: "⏳", no_entry: "⛔", no_entry_sign: "🚫",
  alarm_clock: "⏰", white_circle: "⚪", large_blue_circle: "🔵", fast_forward: "⏩",
  information_source: "ℹ️", grey_question: "❔", bar_chart: "📊", gear: "⚙️",
  red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", tada: "🎉",
  memo: "📝", mag: "🔍", wrench: "🔧", robot_face: "🤖", clock1: "🕐", zap: "⚡",
  heavy_check_mark: "✔️", bell: "🔔", eyes: "👀", speech_balloon: "💬", package: "📦",
};

const state = { view: null, channel: null, thread: null, user: localStorage.getItem("autodev-user") };
const $ = (id) => document.getElementById(id);

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function userName(id) {
  if (id === "UAUTODEVBOT") return "autodev";
  const known = (state.view?.users || []).find((u) => u.id === id);
  return known ? known.name : id;
}

// Slack's mrkdwn: <links>, <@users>, `code`, ```blocks```, *bold*, _italic_, ~strike~, :emoji:
function inline(text) {
  let out = "";
  let last = 0;
  const special = /<([^<>\n]+)>/g;
  for (const match of text.matchAll(special)) {
    out += styled(text.slice(last, match.index));
    out += special_token(match[1]);
    last = match.index + match[0].length;
  }
  return out + styled(text.slice(last));
}

function special_token(body) {
  const [target, label] = body.split("|", 2);
  if (target.startsWith("@")) return `<span class="mention">@${escapeHtml(userName(target.slice(1)))}</span>`;
  if (target.startsWith("#")) return `<span class="mention">#${escapeHtml(label || target.slice(1))}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${escapeHtml(label || target.slice(1))}</span>`;
  if (/^(https?:|mailto:)/.test(target)) {
    return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener">${escapeHtml(label || target)}</a>`;
  }
  return escapeHtml(`<${body}>`);
}

function styled(text) {
  const parts = text.split(/(`[^`\n]+`)/g);
  return parts.map((part) => {
    if (/^`[^`\n]+`$/.test(part)) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
    let html = escapeHtml(part);
    html = html.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, "$1<b>$2</b>");
    html = html.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, "$1<i>$2</i>");
    html = html.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, "$1<s>$2</s>");
    html = html.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
    return html.replace(/\n/g, "<br>");
  }).join("");
}

function mrkdwn(text) {
  const pieces = String(text || "").split(/```/);
  return pieces.map((piece, i) => (i % 2 ? `<pre>${escapeHtml(piece.replace(/^\n/, ""))}</pre>` : inline(piece))).join("");
}

function textObject(obj) {
  if (!obj) return "";
  if (typeof obj === "string") return mrkdwn(obj);
  return obj.type === "plain_text" ? escapeHtml(obj.text || "").replace(/\n/g, "<br>") : mrkdwn(obj.text);
}

function button(element, message) {
  const style = element.style ? ` class="${escapeHtml(element.style)}"` : "";
  const label = textObject(element.text);
  if (element.url) {
    return `<a class="button" href="${escapeHtml(element.url)}" target="_blank" rel="noopener">${label}</a>`;
  }
  return `<button type="button"${style} data-action="${escapeHtml(element.action_id || "")}"` +
    ` data-value="${escapeHtml(element.value || "")}" data-ts="${escapeHtml(message.ts)}"` +
    ` data-channel="${escapeHtml(message.channel)}">${label}</button>`;
}

function element(el, message) {
  if (el.type === "button") return button(el, message);
  if (el.type === "image") return `<img alt="${escapeHtml(el.alt_text || "")}" src="${escapeHtml(el.image_url)}" height="16">`;
  return textObject(el);
}

function block(b, message) {
  switch (b.type) {
    case "header":
      return `<div class="block-header">${textObject(b.text)}</div>`;
    case "section": {
      let html = `<div class="block-section">${textObject(b.text)}`;
      if (b.fields) html += `<div class="fields">${b.fields.map((f) => `<div>${textObject(f)}</div>`).join("")}</div>`;
      if (b.accessory) html += `<div class="block-actions">${element(b.accessory, message)}</div>`;
      return html + "</div>";
    }
    case "context":
      return `<div class="block-context">${(b.elements || []).map((el) => element(el, message)).join(" ")}</div>`;
    case "actions":
      return `<div class="block-actions">${(b.elements || []).map((el) => element(el, message)).join("")}</div>`;
    case "divider":
      return '<hr class="block-divider">';
    case "image":
      return `<img alt="${escapeHtml(b.alt_text || "")}" src="${escapeHtml(b.image_url)}" style="max-width:360px">`;
    default:
      return `<div class="block-context">[${escapeHtml(b.type)} block]</div>`;
  }
}

function when(ts) {
  const date = new Date(parseFloat(ts) * 1000);
  return isNaN(date) ? "" : date.toLocaleTimeString();
}

function messageHtml(message, replies) {
  const body = (message.blocks && message.blocks.length)
    ? message.blocks.map((b) => block(b, message)).join("")
    : `<div class="block-section">${mrkdwn(message.text)}</div>`;
  const ephemeral = message.ephemeral_to !== undefined;
  const note = ephemeral ? ` · <i>only visible to ${escapeHtml(userName(message.ephemeral_to || "you"))}</i>` : "";
  const edited = message.edited ? ' <span class="edited">(edited)</span>' : "";
  let thread = "";
  if (replies !== undefined && replies > 0) {
    thread = `<button type="button" class="replies" data-thread="${escapeHtml(message.ts)}">` +
      `${replies} ${replies === 1 ? "reply" : "replies"}</button>`;
  }
  return `<div class="message${ephemeral ? " ephemeral" : ""}" data-ts="${escapeHtml(message.ts)}">` +
    `<div class="meta"><b>${escapeHtml(userName(message.user))}</b> ${when(message.ts)}${note}${edited}</div>` +
    `${body}${thread}</div>`;
}

function inChannel(list) {
  return list.filter((m) => m.channel === state.channel);
}

function visibleEphemeral(m) {
  return !m.ephemeral_to || m.ephemeral_to === state.user;
}

function render() {
  const view = state.view;
  if (!view) return;
  $("connection").textContent = view.connected
    ? "connected to the local gateway"
    : "not connected to a gateway: buttons and the box cannot send";
  const users = $("user");
  if (users.options.length !== view.users.length) {
    users.innerHTML = view.users.map((u) => `<option value="${escapeHtml(u.id)}">${escapeHtml(u.name)}</option>`).join("");
    if (state.user && view.users.some((u) => u.id === state.user)) users.value = state.user;
    state.user = users.value;
  }
  if (!state.channel) state.channel = view.default_channel;
  $("channels").innerHTML = view.channels.map((c) =>
    `<a href="#${encodeURIComponent(c)}" data-channel="${escapeHtml(c)}" class="${c === state.channel ? "active" : ""}">` +
    `${c.startsWith("#") ? "" : "# "}${escapeHtml(c)}</a>`).join("");
  $("channel-name").textContent = state.channel;

  const messages = inChannel(view.messages);
  const ephemeral = inChannel(view.ephemeral).filter(visibleEphemeral);
  const roots = messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const replyCount = (ts) => messages.filter((m) => m.thread_ts === ts && m.ts !== ts).length;
  const main = [...roots.map((m) => ({ m, r: replyCount(m.ts) })), ...ephemeral.filter((m) => !m.thread_ts).map((m) => ({ m }))]
    .sort((a, b) => parseFloat(a.m.ts) - parseFloat(b.m.ts));
  keepScroll($("messages"), () => {
    $("messages").innerHTML = main.map(({ m, r }) => messageHtml(m, r)).join("") ||
      '<p class="meta">No messages yet. Try <code>/workflow list</code>.</p>';
  });

  const pane = $("thread");
  if (state.thread) {
    const root = messages.find((m) => m.ts === state.thread);
    const replies = [...messages.filter((m) => m.thread_ts === state.thread && m.ts !== state.thread),
      ...ephemeral.filter((m) => m.thread_ts === state.thread)]
      .sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
    pane.hidden = false;
    keepScroll($("thread-messages"), () => {
      $("thread-messages").innerHTML = (root ? messageHtml(root) + '<hr class="block-divider">' : "") +
        replies.map((m) => messageHtml(m)).join("");
    });
  } else {
    pane.hidden = true;
  }
}

function keepScroll(container, update) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  const top = container.scrollTop;
  update();
  container.scrollTop = atBottom ? container.scrollHeight : top;
}

// Refreshes overlap when changes come close together, and their answers can arrive out of
// order: only the newest one's view is shown, or an older answer would stay on the page until
// the next change (a thread's replies missing while its approval card waits for a click).
let newestRefresh = 0;

async function refresh() {
  const mine = ++newestRefresh;
  const answer = await fetch("/_sink/view", { cache: "no-store" });
  const view = await answer.json();
  if (mine !== newestRefresh) return;
  state.view = view;
  render();
}

async function post(path, body) {
  $("send-error").textContent = "";
  const answer = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const result = await answer.json().catch(() => ({}));
  if (!answer.ok || result.ok === false) {
    $("send-error").textContent = result.error || result.text || `HTTP ${answer.status}`;
  }
  return result;
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("button[data-action], button[data-thread], nav a[data-channel]");
  if (!target) return;
  if (target.dataset.thread) {
    state.thread = target.dataset.thread;
    render();
  } else if (target.dataset.channel && target.tagName === "A") {
    event.preventDefault();
    state.channel = target.dataset.channel;
    state.thread = null;
    render();
  } else if (target.dataset.action) {
    target.disabled = true;
    post("/_page/click", {
      user: state.user, channel: target.dataset.channel, ts: target.dataset.ts,
      action_id: target.dataset.action, value: target.dataset.value,
    });
  }
});

$("user").addEventListener("change", (event) => {
  state.user = event.target.value;
  localStorage.setItem("autodev-user", state.user);
  render();
});

$("close-thread").addEventListener("click", () => { state.thread = null; render(); });

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  await post("/_page/send", { user: state.user, channel: state.channel, text });
});

$("thread-composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("thread-text").value.trim();
  if (!text || !state.thread) return;
  $("thread-text").value = "";
  await post("/_page/send", { user: state.user, channel: state.channel, text, thread_ts: state.thread });
});

function follow() {
  // The sink says when anything changed; the view is read again then.
  const stream = new EventSource("/_sink/stream");
  stream.onmessage = () => refresh();
  stream.onerror = () => { $("connection").textContent = "the local stack is not answering; retrying…"; };
}

if (location.hash.length > 1) state.channel = decodeURIComponent(location.hash.slice(1));
refresh().then(follow);
