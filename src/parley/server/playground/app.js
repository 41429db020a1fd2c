// The playground: sign in, then agents, a call, and past calls on one page.

import {api, explain, forgetKey, getKey, setKey} from "./api.js";
import {AgentsPanel} from "./agents.js";
import {CallPanel} from "./call.js";
import {$, h} from "./dom.js";
import {HistoryPanel} from "./history.js";

const history = new HistoryPanel();
const call = new CallPanel({onEnded: () => history.load()});
const agents = new AgentsPanel({
  onChange(list) {
    history.setAgents(list);
    const select = $("call-agent");
    const previous = select.value;
    select.replaceChildren(...list.map((agent) => h("option", {value: agent.id}, agent.name)));
    // keep the choice; else the agent being edited (a new one is where a user goes next)
    const wanted = list.some((a) => a.id === previous) ? previous : agents?.editing?.id;
    if (wanted) select.value = wanted;
  },
});

function show(signedIn) {
  $("sign-in").hidden = signedIn;
  $("workspace").hidden = !signedIn;
  $("who").hidden = !signedIn;
}

async function enter() {
  // shown once filled: a form typed into while it loads would be reset under the user
  await Promise.all([agents.load(), history.load()]);
  show(true);
  $("call-start").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("sign-in-error").textContent = "";
  try {
    await api("/v1/agents?limit=1", {key}); // a key the server refuses is said here, once
  } catch (exc) {
    $("sign-in-error").textContent = `Not signed in: ${explain(exc)}`;
    return;
  }
  setKey(key);
  $("api-key").value = "";
  await enter();
});

$("sign-out").addEventListener("click", async () => {
  if (call.live) call.stop();
  forgetKey();
  show(false);
  $("api-key").focus();
});

if (getKey()) {
  enter().catch((exc) => {
    // a key from an earlier visit of this tab may have been revoked since
    forgetKey();
    show(false);
    $("sign-in-error").textContent = `Please sign in again: ${explain(exc)}`;
  });
} else {
  show(false);
}
