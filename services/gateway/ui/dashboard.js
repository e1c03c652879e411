// The dashboard page: draws the snapshots the gateway sends over server-sent events
// (/ui/api/events), and sends a job's actions to /ui/api/jobs/<id>/<action>. No framework:
// the whole page is a few tables redrawn from each snapshot.

const $ = (selector, root = document) => root.querySelector(selector);
const text = (value) => (value === null || value === undefined ? "" : String(value));
const escape = (value) => text(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const badge = (word, extra = "") => `<span class="badge ${escape(word)}" ${extra}>${escape(word)}</span>`;
const isTerminal = (status) => ["completed", "failed", "cancelled", "expired", "lost"].includes(status);

let selected = new URLSearchParams(location.hash.slice(1)).get("job");
let events;

function connect() {
  events?.close();
  events = new EventSource(`/ui/api/events${selected ? `?job=${encodeURIComponent(selected)}` : ""}`);
  events.addEventListener("open", () => $("[data-testid=live]").classList.add("on"));
  events.addEventListener("error", () => $("[data-testid=live]").classList.remove("on"));
  events.addEventListener("overview", (event) => drawOverview(JSON.parse(event.data)));
  events.addEventListener("job", (event) => drawJob(JSON.parse(event.data)));
}

function select(jobId) {
  selected = jobId;
  history.replaceState(null, "", `#job=${encodeURIComponent(jobId)}`);
  for (const row of document.querySelectorAll("tr.job")) row.classList.toggle("selected", row.dataset.job === jobId);
  $("[data-testid=detail]").innerHTML = `<p class="hint">Loading ${escape(jobId)}…</p>`;
  connect();
}

function drawOverview(view) {
  $("[data-testid=user]").textContent = view.user;
  $("[data-testid=peer-count]").textContent = `(${view.peers.length})`;
  $("[data-testid=peers] tbody").innerHTML = view.peers
    .map(
      (peer) => `<tr data-peer="${escape(peer.uuid)}" title="${escape(peer.capabilities.join(", "))}">
        <td>${escape(peer.uuid)}</td><td>${badge(peer.state)}</td><td>${escape(peer.group_id)}</td>
        <td>${escape(peer.blender_version)}</td><td>${escape(peer.current_job)}</td></tr>`,
    )
    .join("");
  $("[data-testid=jobs] tbody").innerHTML = view.jobs
    .map((job) => {
      const kind = job.kind === "farm" ? `${job.command === "render_frames" ? "render" : "farm map"} · ${job.tasks_total} tasks` : `${job.kind} ${text(job.command)}`;
      const status = job.paused && !isTerminal(job.status) ? "paused" : job.status;
      return `<tr class="job${job.job_id === selected ? " selected" : ""}" data-job="${escape(job.job_id)}">
        <td>${escape(job.job_id)}</td><td>${escape(kind)}</td><td>${badge(status)}</td>
        <td><div class="bar"><div style="width:${Math.round((job.progress ?? 0) * 100)}%"></div></div></td></tr>`;
    })
    .join("");
  for (const row of document.querySelectorAll("tr.job")) row.addEventListener("click", () => select(row.dataset.job));
}

function drawJob(view) {
  const detail = $("[data-testid=detail]");
  const status = view.status;
  if (status.status === "not_found") {
    detail.innerHTML = `<p class="error">${escape(status.error)}</p>`;
    return;
  }
  if (status.job_id !== selected) return;
  const farm = status.farm;
  const shownStatus = farm?.paused && !isTerminal(status.status) ? "paused" : status.status;
  const parts = [
    `<h2>${escape(status.job_id)} ${badge(shownStatus, 'data-testid="job-status"')}</h2>`,
    `<p class="meta">${escape(status.kind)} ${escape(status.command)} ${farm ? `· group ${escape(farm.group_id ?? "any farm worker")} · priority ${escape(farm.priority)}` : ""}
      ${status.progress_message ? ` · ${escape(status.progress_message)}` : ""}</p>`,
    status.error ? `<p class="error" data-testid="job-error">${escape(status.error)}</p>` : "",
    actions(status, farm),
  ];
  if (farm) parts.push(farmSummary(farm), view.frames ? framesStrip(view.frames) : "");
  parts.push(`<div class="columns"><div>${farm ? tasksTable(farm) : ""}${artifactsList(view.artifacts)}</div>${lastFrame(farm)}</div>`);
  detail.innerHTML = parts.join("");
  for (const button of detail.querySelectorAll("[data-action]")) button.addEventListener("click", () => act(button.dataset.action));
  $("[data-testid=priority]", detail)?.addEventListener("change", (event) => act("set_priority", { priority: event.target.value }));
}

function actions(status, farm) {
  if (isTerminal(status.status) && !(farm && status.status === "failed")) return "";
  const buttons = [];
  if (!isTerminal(status.status)) buttons.push(`<button class="danger" data-action="cancel" data-testid="cancel">Cancel</button>`);
  if (farm && !isTerminal(status.status)) {
    buttons.push(farm.paused ? `<button data-action="resume" data-testid="resume">Resume</button>` : `<button data-action="pause" data-testid="pause">Pause</button>`);
    buttons.push(
      `<select data-testid="priority" title="priority">${["high", "normal", "low"].map((p) => `<option${p === farm.priority ? " selected" : ""}>${p}</option>`).join("")}</select>`,
    );
  }
  if (farm && (farm.tasks_by_status.failed ?? 0) > 0) buttons.push(`<button data-action="requeue_failed" data-testid="requeue">Requeue failed</button>`);
  return `<div class="actions">${buttons.join("")}<span class="message" data-testid="action-message"></span></div>`;
}

async function act(action, body = {}) {
  const response = await fetch(`/ui/api/jobs/${encodeURIComponent(selected)}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-fabric-ui": "1" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  const message = $("[data-testid=action-message]");
  if (message) message.textContent = answer.message ?? answer.error ?? answer.status;
}

function farmSummary(farm) {
  const done = farm.frames_total !== undefined ? `${farm.frames_done} / ${farm.frames_total}` : `${farm.items_done} / ${farm.items_total}`;
  const eta = farm.eta_seconds === null ? "–" : farm.eta_seconds < 90 ? `${farm.eta_seconds} s` : `${Math.round(farm.eta_seconds / 60)} min`;
  const counts = Object.entries(farm.tasks_by_status).map(([word, count]) => `${badge(word)} ${count}`).join(" ");
  const total = farm.frames_total ?? farm.items_total;
  const fraction = total ? (farm.frames_done ?? farm.items_done) / total : 0;
  return `<div class="summary">
      <div>${farm.frames_total !== undefined ? "frames" : "items"} done<strong data-testid="frames-done">${done}</strong></div>
      <div>tasks<strong>${farm.tasks_total}</strong></div>
      <div>failed attempts<strong>${farm.failed_attempts}</strong></div>
      <div>ETA<strong>${eta}</strong></div>
      <div>by status<br>${counts}</div>
    </div>
    <div class="bar"><div style="width:${Math.round(fraction * 100)}%"></div></div>
    ${farm.blocklisted.length ? `<p class="error">blocklisted: ${escape(farm.blocklisted.join(", "))}</p>` : ""}
    ${farm.recent_failures.map((failure) => `<p class="error">${escape(failure.task_id)} on ${escape(failure.target_uuid)}: ${escape(failure.error)}</p>`).join("")}`;
}

function framesStrip(frames) {
  const numbers = frames.ranges.flatMap(([first, last]) => Array.from({ length: last - first + 1 }, (_, i) => first + i));
  const names = { d: "stored", r: "rendering", q: "waiting", w: "retrying", f: "failed", c: "cancelled" };
  // A stored frame's cell is a link to it.
  const cells = numbers
    .map((frame, i) => {
      const state = frames.states[i];
      const cell = `<span class="${state}" title="frame ${frame}: ${names[state]}"></span>`;
      return state === "d" ? `<a href="/ui/api/jobs/${encodeURIComponent(selected)}/frames/${frame}" target="_blank">${cell}</a>` : cell;
    })
    .join("");
  return `<h3>Frames</h3><div class="frames" data-testid="frames">${cells}</div>`;
}

function tasksTable(farm) {
  const rows = farm.tasks
    .map((task) => {
      const last = task.attempts.at(-1);
      return `<tr><td>${escape(task.task_id)}</td><td>${badge(task.status)}</td><td>${task.attempts.length}</td><td>${escape(last?.target_uuid)}</td><td>${escape(last?.error)}</td></tr>`;
    })
    .join("");
  const more = farm.tasks_total > farm.tasks.length ? `<p class="hint">first ${farm.tasks.length} of ${farm.tasks_total} tasks</p>` : "";
  return `<h3>Tasks</h3><div class="task-list"><table data-testid="tasks"><thead><tr><th>Task</th><th>Status</th><th>Attempts</th><th>Peer</th><th>Error</th></tr></thead><tbody>${rows}</tbody></table></div>${more}`;
}

function artifactsList(artifacts) {
  if (!artifacts || artifacts.length === 0) return "";
  const items = artifacts.map((artifact) => `<li><a href="${escape(artifact.url)}" download="${escape(artifact.file)}">${escape(artifact.file)}</a> (${artifact.size} bytes)</li>`).join("");
  return `<h3>Files</h3><ul data-testid="artifacts">${items}</ul>`;
}

function lastFrame(farm) {
  const last = farm?.last_frame;
  if (!last) return "<div></div>";
  return `<div class="last-frame"><h3>Last frame: <span data-testid="last-frame-number">${last.frame}</span></h3>
    <a href="${escape(last.url)}" download="${escape(last.file)}"><img data-testid="last-frame" alt="frame ${last.frame}" src="${escape(last.url)}?at=${encodeURIComponent(text(last.stored_at))}"></a></div>`;
}

connect();
