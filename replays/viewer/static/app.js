/* longplay viewer: the run list, the run page and the comparison page (plain JavaScript, no dependencies).
 *
 * Every page reads JSON from the viewer's HTTP API (API.md), or, in a page written by
 * `longplay export REPLAY --html`, from the data embedded in the page itself (#longplay-embed).
 * Text from replays (model output, tool calls, memory, names) is only ever set as textContent: a replay
 * cannot inject markup or script.
 */
(function () {
  "use strict";

  // ====================================================================================== utilities

  const EMBED = readEmbed();
  const SVG_NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2f6fde", "#e4572e", "#17a398", "#f3a712", "#8e44ad", "#29335c", "#c0392b", "#3fa34d",
    "#db5a9b", "#6c757d"];
  const TIER_COLORS = ["#6c8ebf", "#2f6fde", "#17a398", "#f3a712", "#e4572e", "#8e44ad", "#c0392b"];

  function readEmbed() {
    const node = document.getElementById("longplay-embed");
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function $(id) { return document.getElementById(id); }

  /** An element with attributes (`text` sets textContent, `on*` adds listeners) and children. */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function s(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function showError(id, message) {
    const box = $(id);
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  const fmt = {
    int(v) { return v === null || v === undefined ? "—" : Math.round(v).toLocaleString("en-US"); },
    num(v, digits) {
      if (v === null || v === undefined || !isFinite(v)) return "—";
      return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 3 : digits });
    },
    usd(v) {
      if (v === null || v === undefined) return "—";
      if (v === 0) return "$0";
      return v < 0.01 ? "$" + v.toPrecision(2) : "$" + v.toFixed(v < 10 ? 3 : 2);
    },
    tokens(v) {
      if (v === null || v === undefined) return "—";
      if (v >= 1e6) return (v / 1e6).toFixed(2) + "M";
      if (v >= 1e4) return (v / 1e3).toFixed(1) + "k";
      return fmt.int(v);
    },
    seconds(v) {
      if (v === null || v === undefined || !isFinite(v)) return "—";
      if (v < 60) return v.toFixed(v < 10 ? 2 : 1) + " s";
      if (v < 3600) return Math.floor(v / 60) + " min " + Math.round(v % 60) + " s";
      return (v / 3600).toFixed(1) + " h";
    },
    date(iso) {
      if (!iso) return "—";
      const d = new Date(iso);
      if (isNaN(d)) return iso;
      const pad = (n) => String(n).padStart(2, "0");
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" +
        pad(d.getMinutes());
    },
    axis(axis, v) {
      if (v === null || v === undefined || !isFinite(v)) return "—";
      if (axis === "steps") return fmt.int(v);
      if (axis === "tokens") return fmt.tokens(v);
      if (axis === "cost") return fmt.usd(v);
      if (axis === "wall") return fmt.seconds(v);
      return fmt.num(v);
    },
  };

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new Error((body && body.error) || "HTTP " + response.status);
    return body;
  }

  function apiUrl(path, params) {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(params || {})) {
      if (Array.isArray(value)) value.forEach((v) => q.append(key, v));
      else if (value !== null && value !== undefined) q.append(key, value);
    }
    const text = q.toString();
    return path + (text ? "?" + text : "");
  }

  /** Index of the last element of sorted `values` that is <= x (-1 when none). */
  function bisectRight(values, x) {
    let lo = 0, hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (values[mid] <= x) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
  }

  function runUrl(id, extra) { return apiUrl("/run", Object.assign({ id: id }, extra || {})); }

  // ====================================================================================== data sources

  /** The viewer's HTTP API for one run; frames are fetched as blobs and kept in a small LRU. */
  class HttpSource {
    constructor(id) {
      this.id = id;
      this.frames = new Map();
      this.trajectories = new Map();
    }
    run() { return getJSON(apiUrl("/api/run", { id: this.id })); }
    step(episode, step) { return getJSON(apiUrl("/api/step", { id: this.id, episode: episode, step: step })); }
    trajectory(episode) {
      if (!this.trajectories.has(episode)) {
        this.trajectories.set(episode, getJSON(apiUrl("/api/trajectory", { id: this.id, episode: episode })));
      }
      return this.trajectories.get(episode);
    }
    areaUrl(episode, mapId) { return apiUrl("/api/area.png", { id: this.id, episode: episode, map: mapId }); }
    /** Resolves to {url, step}: an object URL of the PNG of `step`. */
    async frame(episode, step) {
      const key = episode + ":" + step;
      const hit = this.frames.get(key);
      if (hit) {
        this.frames.delete(key);
        this.frames.set(key, hit);
        return { url: hit, step: step };
      }
      const response = await fetch(apiUrl("/api/frame.png", { id: this.id, episode: episode, step: step }));
      if (!response.ok) {
        let message = "HTTP " + response.status;
        try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
        throw new Error(message);
      }
      const url = URL.createObjectURL(await response.blob());
      this.frames.set(key, url);
      if (this.frames.size > 400) {
        const [oldKey, oldUrl] = this.frames.entries().next().value;
        this.frames.delete(oldKey);
        URL.revokeObjectURL(oldUrl);
      }
      return { url: url, step: step };
    }
  }

  /** The data embedded by `longplay export --html`: frames every `stride` steps, turns and memory in full. */
  class EmbedSource {
    constructor(data) {
      this.data = data;
      this.turns = (data.turns || []).slice().sort((a, b) => a.step - b.step || a.turn - b.turn);
      this.turnSteps = this.turns.map((t) => t.step);
      // a summary's or critic's call and the spending of calls a crash lost count in tokens and dollars, not turns
      let tokens = 0, cost = 0, played = 0;
      this.spent = this.turns.map((t) => {
        tokens += t.tokens; cost += t.cost_usd || 0; played += t.agent_turn ? 1 : 0;
        return [tokens, cost, played];
      });
      this.memory = {};
      this.memoryOrder = data.memory_order || [];
      for (const snap of (data.memory || []).slice().sort((a, b) => a.step - b.step || a.snapshot - b.snapshot)) {
        (this.memory[snap.name] = this.memory[snap.name] || []).push(snap);
        if (!this.memoryOrder.includes(snap.name)) this.memoryOrder.push(snap.name);
      }
    }
    run() { return Promise.resolve(this.data.run); }
    trajectory() { return Promise.resolve(this.data.trajectory); }
    areaUrl(episode, mapId) {
      const png = (this.data.areas || {})[String(mapId)];
      return png ? "data:image/png;base64," + png : null;
    }
    frame(episode, step) {
      const frames = this.data.frames;
      let i = bisectRight(frames.steps, step);
      if (i < 0) i = 0;
      return Promise.resolve({ url: "data:image/png;base64," + frames.png[i], step: frames.steps[i] });
    }
    step(episode, step) {
      const actions = this.data.actions || "";
      const code = actions.charCodeAt(step) - 48;
      const i = bisectRight(this.turnSteps, step);
      let lm = { turns: [], since_step: null, spent: { turns: 0, tokens: 0, cost_usd: 0 }, prev_step: null,
        next_step: this.turnSteps.length ? this.turnSteps[0] : null };
      if (i >= 0) {
        const since = this.turnSteps[i];
        const first = bisectRight(this.turnSteps, since - 1) + 1;
        const next = bisectRight(this.turnSteps, step) + 1;
        lm = {
          turns: this.turns.slice(first, i + 1), since_step: since,
          spent: { turns: this.spent[i][2], tokens: this.spent[i][0], cost_usd: this.spent[i][1] },
          prev_step: first > 0 ? this.turnSteps[first - 1] : null,
          next_step: next < this.turnSteps.length ? this.turnSteps[next] : null,
        };
      }
      const memory = [];
      for (const name of this.memoryOrder) {
        const snaps = this.memory[name] || [];
        const k = bisectRight(snaps.map((m) => m.step), step);
        if (k >= 0) memory.push(Object.assign({}, snaps[k], { updates: k + 1 }));
      }
      return Promise.resolve({
        episode: episode, step: step, steps: actions.length,
        action: step < actions.length && code >= 0 && code < ACTION_NAMES.length ? ACTION_NAMES[code] : null,
        reward: (this.data.rewards || {})[String(step)] || 0, state: null,
        state_error: null, lm: lm, memory: memory,
      });
    }
  }

  const ACTION_NAMES = ["up", "down", "left", "right", "a", "b", "start", "select", "noop"];

  // ====================================================================================== run list

  async function initIndex() {
    const state = { runs: [], sortKey: "created", sortDir: -1, selected: new Set(), maxCompare: Infinity };
    let data;
    try {
      data = await getJSON("/api/runs");
    } catch (e) {
      showError("list-error", "Could not load the run list: " + e.message);
      return;
    }
    $("folder").textContent = "folder: " + data.folder;
    state.runs = data.runs;
    state.maxCompare = data.max_compare || Infinity;
    fillSelect($("filter-env"), data.runs.map((r) => r.env));
    fillSelect($("filter-agent"), data.runs.map((r) => r.agent));
    $("empty").hidden = data.runs.length > 0;
    showUnreadable($("unreadable"), data.unreadable);

    const table = $("runs");
    for (const th of table.querySelectorAll("th[data-key]")) {
      th.addEventListener("click", () => {
        const key = th.dataset.key;
        state.sortDir = state.sortKey === key ? -state.sortDir : (["id", "env", "agent", "model", "scaffold"]
          .includes(key) ? 1 : -1);
        state.sortKey = key;
        render();
      });
    }
    for (const id of ["filter", "filter-env", "filter-agent"]) $(id).addEventListener("input", render);
    $("select-all").addEventListener("change", (event) => {
      for (const run of visible()) {
        if (event.target.checked) state.selected.add(run.id); else state.selected.delete(run.id);
      }
      render();
    });
    $("compare-selected").addEventListener("click", () => {
      window.location.href = apiUrl("/compare", { id: Array.from(state.selected) });
    });

    function visible() {
      const terms = $("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
      const env = $("filter-env").value, agent = $("filter-agent").value;
      return state.runs.filter((r) => {
        if (env && r.env !== env) return false;
        if (agent && r.agent !== agent) return false;
        const text = [r.id, r.env, r.agent, r.model, r.scaffold, r.label, otherStatus(r.status), r.furthest_milestone,
          ...(r.start_states || []).map((d) => "from state " + d.slice(0, 8)),
          r.killed ? "killed" : null, r.recording ? "recording" : null, r.stopped_early ? "stopped early" : null].filter(Boolean).join(" ").toLowerCase();
        return terms.every((t) => text.includes(t));
      });
    }

    /** What a column sorts by: a budget by its step limit, which every `longplay run` sets. */
    function sortValue(run, key) {
      return key === "budget" ? (run.budget ? run.budget.steps : null) : run[key];
    }

    function render() {
      const rows = visible().sort((a, b) => compareValues(sortValue(a, state.sortKey), sortValue(b, state.sortKey),
        state.sortDir));
      for (const th of table.querySelectorAll("th[data-key]")) {
        th.classList.toggle("sorted-asc", th.dataset.key === state.sortKey && state.sortDir > 0);
        th.classList.toggle("sorted-desc", th.dataset.key === state.sortKey && state.sortDir < 0);
      }
      const body = clear(table.tBodies[0]);
      for (const r of rows) {
        const box = h("input", { type: "checkbox", "aria-label": "select " + r.id,
          onchange: (e) => { if (e.target.checked) state.selected.add(r.id); else state.selected.delete(r.id); update(); } });
        box.checked = state.selected.has(r.id);
        body.appendChild(h("tr", { "data-id": r.id },
          h("td", { class: "sel" }, box),
          h("td", { class: "run" }, h("a", { href: runUrl(r.id), text: r.id }),
            (r.start_states || []).map(stateBadge), runMarks(r),
            otherStatus(r.status) ? h("div", { class: "muted", text: "status: " + r.status }) : null),
          h("td", { text: r.env || "—" }),
          h("td", { text: r.agent || "—" }),
          h("td", { text: r.model || "—" }),
          h("td", { text: r.scaffold || "—", title: r.scaffold || "" }),
          h("td", { class: "num", text: fmt.int(r.steps) + (r.episodes > 1 ? " (" + r.episodes + " ep.)" : "") }),
          h("td", { class: "num budget", text: budgetText(r.budget) || "—" }),
          h("td", { class: "num", title: r.furthest_milestone || "", text: r.milestones + " / " + r.catalog_size }),
          h("td", { class: "num", text: r.turns ? fmt.usd(r.cost_usd) : "—" }),
          h("td", { text: fmt.date(r.created) })));
      }
      update();
    }

    function update() {
      const shown = visible();
      $("count").textContent = shown.length + " of " + state.runs.length + " runs" +
        (state.selected.size ? " · " + state.selected.size + " selected" : "");
      // The server compares at most max_compare runs at once: say so before the click, not after it.
      const tooMany = state.selected.size > state.maxCompare;
      $("compare-selected").disabled = state.selected.size === 0 || tooMany;
      $("compare-selected").title = tooMany ? "compare at most " + state.maxCompare + " runs at once: " +
        state.selected.size + " are selected" : "";
      $("compare-selected").textContent = "Compare selected" + (state.selected.size ? " (" + state.selected.size + ")" : "");
      $("compare-limit").hidden = !tooMany;
      $("compare-limit").textContent = tooMany ? "select at most " + state.maxCompare + " runs to compare" : "";
      $("select-all").checked = shown.length > 0 && shown.every((r) => state.selected.has(r.id));
    }

    render();
    document.body.dataset.ready = "1";
  }

  /** Orders two column values, ascending for `dir` 1 and descending for -1; empty values (no budget, no model)
   * come last either way: they are no smallest nor largest value. */
  function compareValues(a, b, dir) {
    const missingA = a === null || a === undefined || a === "", missingB = b === null || b === undefined || b === "";
    if (missingA || missingB) return missingA === missingB ? 0 : (missingA ? 1 : -1);
    if (typeof a === "number" && typeof b === "number") return (a - b) * dir;
    return String(a).localeCompare(String(b), undefined, { numeric: true }) * dir;
  }

  function fillSelect(select, values) {
    for (const value of Array.from(new Set(values.filter(Boolean))).sort()) {
      select.appendChild(h("option", { value: value, text: value }));
    }
  }

  /** The mark of a run or group started from a save state (null: from the world's start): the first 8 hex
   * digits of the state's SHA-256, as `longplay compare` names such groups. */
  function stateBadge(digest) {
    if (!digest) return null;
    return h("span", { class: "badge state", text: "from state " + digest.slice(0, 8),
      title: "started from a save state (SHA-256 " + digest + "), not from the world's start: the milestones the " +
        "state held count at step 0, so it is compared only with runs from the same state" });
  }

  /** How runs ended, as the comparison marks them, in the order they are shown: each kind's badge text and its
   * tooltip for one run (``one``, given its seconds since its last commit) or for ``count`` runs of a group
   * (``many``), and which runs (``ofRun``) or how many of a group (``ofGroup``) it marks. compare counts every
   * marked run as censored at its last step, as a run whose budget ran out, so the tables say how many there are.
   * ``killed``: the recorder never closed the episode, and the replay has not been written for long (killed, or
   * stalled). ``recording``: the recorder has closed no episode yet and wrote the replay recently; shown as it was
   * when the page was read (reload for more steps). ``stopped``: the recorder closed the run before its budget
   * was used (Ctrl+C, failures), from the budget the replay records. */
  const MARKS = {
    killed: {
      text: "killed", ofRun: (r) => r.killed, ofGroup: (g) => g.runs - g.complete_runs - g.recording_runs,
      one: (quietS) => "this run's episode was never closed by its recorder, and its replay was last written " +
        ago(quietS) + ": killed (or stalled). It counts as censored at its last recorded step, as a run whose budget ran out does",
      many: (count) => count + " of these runs' episode was never closed by its recorder, and their replays were " +
        "last written long ago: killed (or stalled). It counts as censored at its last recorded step, as a run whose " +
        "budget ran out does",
    },
    recording: {
      text: "recording", ofRun: (r) => r.recording, ofGroup: (g) => g.recording_runs,
      one: (quietS) => "this run is still being recorded: its replay was last written " + ago(quietS) +
        ". It shows the steps up to that write (reload for more), and counts as censored at its last one",
      many: (count) => count + " of these runs are still being recorded: their replays were written recently. It " +
        "shows the steps up to that write (reload for more), and counts as censored at its last one",
    },
    stopped: {
      text: "stopped early", ofRun: (r) => r.stopped_early, ofGroup: (g) => g.stopped_early_runs,
      one: () => "this run stopped before its budget was used (Ctrl+C, failures). It counts as censored at its last " +
        "step, as a run whose budget ran out does",
      many: (count) => count + " of these runs stopped before their budget was used (Ctrl+C, failures). They count " +
        "as censored at their last step, as a run whose budget ran out does",
    },
  };

  /** The badge of a mark (a kind of ``MARKS``) on ``count`` runs (null: none), or on one run when ``single``
   * (``quietS``: its seconds since its last commit). */
  function markBadge(kind, count, single, quietS) {
    if (!count) return null;
    const mark = MARKS[kind];
    return h("span", { class: "badge " + kind, text: single ? mark.text : count + " " + mark.text,
      title: single ? mark.one(quietS) : mark.many(count) });
  }

  /** A run's mark badges (null where it has none of a kind), in ``MARKS`` order. */
  function runMarks(r) {
    return Object.keys(MARKS).map((kind) => markBadge(kind, MARKS[kind].ofRun(r) ? 1 : 0, true, r.quiet_s));
  }

  /** A group's mark badges, each with how many of its runs have it (null where none). */
  function groupMarks(g) {
    return Object.keys(MARKS).map((kind) => markBadge(kind, MARKS[kind].ofGroup(g), false));
  }

  /** The texts of a run's marks, in ``MARKS`` order (for one line of text: the chart's legend). */
  function runMarkTexts(r) {
    return Object.values(MARKS).filter((mark) => mark.ofRun(r)).map((mark) => mark.text);
  }

  /** A replay header's status where it is neither ``closed`` nor ``recording`` (null otherwise): a killed run's
   * header still says ``recording``, so the killed and recording badges say which a run is, not the status. */
  function otherStatus(status) {
    return status && !["closed", "recording"].includes(status) ? status : null;
  }

  function ago(seconds) {
    return seconds === null || seconds === undefined ? "at an unknown time" : fmt.seconds(Math.round(seconds)) + " ago";
  }

  /** A run's budget (the replay header's ``budget``: null limits are none) as one line: "1,500 steps · $2.000";
   * null when the replay records none (older replays, ``longplay serve``). */
  function budgetText(budget) {
    if (!budget || typeof budget !== "object") return null;
    const parts = [["steps", (v) => fmt.int(v) + " steps"], ["turns", (v) => fmt.int(v) + " turns"],
      ["tokens", (v) => fmt.tokens(v) + " tokens"], ["dollars", fmt.usd], ["seconds", fmt.seconds]]
      .filter(([key]) => typeof budget[key] === "number").map(([key, format]) => format(budget[key]));
    return parts.length ? parts.join(" · ") : "no limit";
  }

  function showUnreadable(section, entries) {
    if (!section) return;
    section.hidden = !entries || entries.length === 0;
    const list = clear(section.querySelector("ul"));
    for (const u of entries || []) {
      list.appendChild(h("li", { "data-id": u.id }, h("code", { text: u.id }), " — ", h("span", { class: "why", text: u.error })));
    }
  }

  // ====================================================================================== run page

  const SPEEDS = [[1, "1 step/s"], [2, "2 steps/s"], [4, "4 steps/s · human pace"], [10, "10 steps/s"],
    [30, "30 steps/s · game speed"], [60, "60 steps/s"], [150, "150 steps/s"], [500, "500 steps/s"],
    [2000, "2,000 steps/s"], [10000, "10,000 steps/s"]];

  async function initRun() {
    const params = new URLSearchParams(window.location.search);
    const source = EMBED ? new EmbedSource(EMBED) : new HttpSource(params.get("id"));
    if (EMBED) {
      for (const node of document.querySelectorAll(".server-only")) node.hidden = true;
      document.querySelector(".brand").removeAttribute("href");
    }
    if (!EMBED && !params.get("id")) { showError("run-error", "No run given: open a run from the run list."); return; }

    let run;
    try {
      run = await source.run();
    } catch (e) {
      $("run-title").textContent = params.get("id") || "run";
      showError("run-error", "This replay cannot be shown: " + e.message);
      return;
    }
    const view = {
      run: run, source: source, episode: EMBED ? EMBED.episode : Math.max(0, parseInt(params.get("episode") || "0", 10)),
      step: 0, steps: 0, min: 0, playing: false, speed: 30, traj: null, areaCache: new Map(),
    };
    if (!run.episodes.some((e) => e.episode === view.episode)) view.episode = run.episodes.length ? run.episodes[0].episode : 0;
    document.title = "longplay · " + run.name;
    $("run-title").textContent = run.name;
    renderMeta(run);
    $("run-grid").hidden = false;
    if (!EMBED) $("compare-link").href = apiUrl("/compare", { id: run.id });

    // episodes
    const episodeSelect = $("episode");
    if (run.episodes.length > 1 && !EMBED) {
      episodeSelect.hidden = false;
      for (const e of run.episodes) {
        episodeSelect.appendChild(h("option", { value: e.episode,
          text: "episode " + e.episode + " · " + fmt.int(e.steps) + " steps · " + (e.end_reason || "running") }));
      }
      episodeSelect.value = String(view.episode);
      episodeSelect.addEventListener("change", () => selectEpisode(parseInt(episodeSelect.value, 10), 0, true));
    }

    // speed
    const speed = $("speed");
    for (const [value, label] of SPEEDS) speed.appendChild(h("option", { value: value, text: label }));
    speed.value = String(view.speed);
    speed.addEventListener("change", () => { view.speed = parseFloat(speed.value); if (view.playing) restartClock(); });

    // controls
    const scrubber = $("scrubber");
    scrubber.addEventListener("input", () => go(parseInt(scrubber.value, 10)));
    $("step-input").addEventListener("change", () => go(parseInt($("step-input").value, 10) || 0));
    $("to-start").addEventListener("click", () => go(view.min));
    $("to-end").addEventListener("click", () => go(view.steps));
    $("step-back").addEventListener("click", (e) => go(view.step - (e.shiftKey ? 100 : 1)));
    $("step-fwd").addEventListener("click", (e) => go(view.step + (e.shiftKey ? 100 : 1)));
    $("prev-milestone").addEventListener("click", () => jumpMilestone(-1));
    $("next-milestone").addEventListener("click", () => jumpMilestone(1));
    $("play").addEventListener("click", () => (view.playing ? pause() : play()));
    $("timeline").addEventListener("click", (event) => {
      const box = event.currentTarget.getBoundingClientRect();
      go(Math.round(view.min + (event.clientX - box.left) / box.width * (view.steps - view.min)));
    });
    $("show-path").addEventListener("change", () => { view.areaCache.clear(); drawMap(); });
    $("show-heat").addEventListener("change", () => { view.areaCache.clear(); drawMap(); });
    document.addEventListener("keydown", (event) => {
      if (event.target && ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName) && event.target.type !== "range") return;
      const big = event.shiftKey ? 100 : 1;
      if (event.key === " ") { event.preventDefault(); view.playing ? pause() : play(); }
      else if (event.key === "ArrowRight") { event.preventDefault(); go(view.step + big); }
      else if (event.key === "ArrowLeft") { event.preventDefault(); go(view.step - big); }
      else if (event.key === "]") jumpMilestone(1);
      else if (event.key === "[") jumpMilestone(-1);
      else if (event.key === "Home") go(view.min);
      else if (event.key === "End") go(view.steps);
    });

    // The page is "ready" once the first frame and the first step's details are on screen; the trajectory
    // (a re-simulation of the whole episode on the server) is asked for only then, so it never delays them.
    let frameShown = null, detailsShown = null;
    const firstPaint = Promise.all([new Promise((resolve) => { frameShown = resolve; }),
      new Promise((resolve) => { detailsShown = resolve; })]);

    // ------------------------------------------------------------------ frames (latest request wins)
    let frameBusy = false, frameWanted = null;
    function requestFrame(step) {
      frameWanted = step;
      if (!frameBusy) pumpFrames();
    }
    async function pumpFrames() {
      frameBusy = true;
      const img = $("frame");
      while (frameWanted !== null) {
        const step = frameWanted;
        frameWanted = null;
        try {
          const frame = await source.frame(view.episode, step);
          img.src = frame.url;
          try { await img.decode(); } catch (e) { /* shown anyway */ }
          img.dataset.step = String(step);
          img.dataset.frameStep = String(frame.step);
          const note = $("frame-note");
          note.hidden = frame.step === step;
          note.textContent = "frame of step " + fmt.int(frame.step) + (EMBED ? " (every " + EMBED.frames.stride + " steps in this file)" : "");
          img.title = "";
        } catch (e) {
          img.dataset.step = String(step);
          img.title = "frame unavailable: " + e.message;
          showError("run-error", "Frames cannot be rendered here: " + e.message);
        }
        if (frameShown) { frameShown(); frameShown = null; }
      }
      frameBusy = false;
    }

    // ------------------------------------------------------------------ step details (latest wins, throttled while playing)
    let detailBusy = false, detailWanted = null, detailTimer = null, lastDetailAt = 0;
    function requestDetails(step) {
      detailWanted = step;
      if (detailTimer) return;
      const wait = view.playing ? Math.max(0, 250 - (performance.now() - lastDetailAt)) : 0;
      detailTimer = setTimeout(() => { detailTimer = null; if (!detailBusy) pumpDetails(); }, wait);
    }
    async function pumpDetails() {
      detailBusy = true;
      while (detailWanted !== null) {
        const step = detailWanted;
        detailWanted = null;
        lastDetailAt = performance.now();
        try {
          const details = await source.step(view.episode, step);
          if (details.step === view.step || detailWanted === null) renderDetails(details);
        } catch (e) {
          renderDetails(null, e.message);
        }
        if (detailsShown) { detailsShown(); detailsShown = null; }
      }
      detailBusy = false;
    }

    // ------------------------------------------------------------------ navigation
    function episodeInfo() { return run.episodes.find((e) => e.episode === view.episode) || run.episodes[0]; }

    function go(step, opts) {
      if (!isFinite(step)) return;
      step = Math.max(view.min, Math.min(view.steps, Math.round(step)));
      if (!(opts && opts.fromPlay) && view.playing) restartClock(step);
      view.step = step;
      scrubber.value = String(step);
      $("step-input").value = String(step);
      updateTimelineCursor();
      updateMilestoneList();
      drawMap();
      requestFrame(step);
      requestDetails(step);
      if (!EMBED) {
        const url = new URL(window.location.href);
        url.searchParams.set("step", String(step));
        if (view.episode) url.searchParams.set("episode", String(view.episode)); else url.searchParams.delete("episode");
        window.history.replaceState(null, "", url.toString());
      }
    }

    function jumpMilestone(direction) {
      const steps = episodeInfo().milestones.map((m) => m.step);
      const target = direction > 0 ? steps.find((x) => x > view.step) : steps.filter((x) => x < view.step).pop();
      if (target !== undefined) go(target);
    }

    let clock = { t0: 0, s0: 0 };
    function restartClock(fromStep) { clock = { t0: performance.now(), s0: fromStep === undefined ? view.step : fromStep }; }
    function play() {
      if (view.step >= view.steps) go(view.min);
      view.playing = true;
      restartClock();
      $("play").textContent = "\u2016 Pause";
      requestAnimationFrame(tick);
    }
    function pause() {
      view.playing = false;
      $("play").textContent = "\u25B6 Play";
      requestDetails(view.step);
    }
    function tick() {
      if (!view.playing) return;
      const target = Math.min(view.steps, clock.s0 + Math.floor((performance.now() - clock.t0) / 1000 * view.speed));
      if (target !== view.step) go(target, { fromPlay: true });
      if (target >= view.steps) pause(); else requestAnimationFrame(tick);
    }

    async function selectEpisode(episode, step, withTrajectory) {
      pause();
      view.episode = episode;
      const info = episodeInfo();
      view.min = EMBED ? EMBED.range[0] : 0;
      view.steps = EMBED ? EMBED.range[1] : info.steps;
      scrubber.min = String(view.min);
      scrubber.max = String(view.steps);
      $("step-input").min = String(view.min);
      $("step-input").max = String(view.steps);
      $("step-total").textContent = fmt.int(view.steps);
      $("episode-note").textContent = (run.episodes.length > 1 ? "episode " + episode + " · " : "") +
        (info.complete ? "ended: " + info.end_reason : "recording was not closed (steps up to the last commit)");
      view.traj = null;
      view.areaCache.clear();
      renderTimeline();
      renderMilestoneList();
      go(step);
      if (withTrajectory !== false) await loadTrajectory(episode);
    }

    async function loadTrajectory(episode) {
      $("area-name").textContent = "re-simulating the trajectory…";
      try {
        const traj = await source.trajectory(episode);
        if (episode !== view.episode) return;
        view.traj = traj;
        prepareTrajectory(view.traj);
        drawMap();
      } catch (e) {
        $("area-name").textContent = "trajectory unavailable: " + e.message;
      }
    }

    // ------------------------------------------------------------------ timeline and milestones
    function xOf(step) { return view.steps > view.min ? (step - view.min) / (view.steps - view.min) * 1000 : 0; }

    function renderTimeline() {
      const svg = clear($("timeline"));
      const info = episodeInfo();
      svg.appendChild(s("rect", { x: 0, y: 17, width: 1000, height: 4, fill: "#dde1e6" }));
      for (const step of info.turn_steps || []) {
        if (step < view.min || step > view.steps) continue;
        svg.appendChild(s("line", { x1: xOf(step), x2: xOf(step), y1: 24, y2: 34, stroke: "#9db7e8",
          "stroke-width": 1, "vector-effect": "non-scaling-stroke" }));
      }
      for (const step of info.error_steps || []) {
        svg.appendChild(s("line", { x1: xOf(step), x2: xOf(step), y1: 22, y2: 36, stroke: "#c0392b",
          "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
      }
      for (const m of info.milestones) {
        if (m.step < view.min || m.step > view.steps) continue;
        const mark = s("line", { x1: xOf(m.step), x2: xOf(m.step), y1: 3, y2: 21, "stroke-width": 4,
          stroke: TIER_COLORS[Math.min(m.tier, TIER_COLORS.length - 1)], "vector-effect": "non-scaling-stroke",
          class: "milestone-mark", "data-step": m.step });
        const title = s("title", {});
        title.textContent = m.name + " — step " + m.step;
        mark.appendChild(title);
        svg.appendChild(mark);
      }
      svg.appendChild(s("line", { id: "timeline-cursor", x1: 0, x2: 0, y1: 0, y2: 38, stroke: "#1c2128",
        "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
    }

    function updateTimelineCursor() {
      const cursor = $("timeline-cursor");
      if (cursor) { cursor.setAttribute("x1", xOf(view.step)); cursor.setAttribute("x2", xOf(view.step)); }
    }

    function renderMilestoneList() {
      const list = clear($("milestones"));
      const info = episodeInfo();
      const reached = new Map(info.milestones.map((m) => [m.id, m]));
      for (const m of info.milestones) {
        list.appendChild(h("li", { "data-step": m.step, "data-milestone": m.id },
          h("button", { title: "jump to step " + m.step, onclick: () => go(m.step) },
            h("span", { class: "dot" }), h("span", { class: "at", text: "step " + fmt.int(m.step) }),
            h("span", { text: m.name }))));
      }
      for (const m of info.catalog || run.catalog) {  // the episode's own world, where it is not the first's
        if (reached.has(m.id)) continue;
        list.appendChild(h("li", { class: "missed", "data-milestone": m.id },
          h("button", { disabled: true, title: "not reached in this episode" },
            h("span", { class: "dot" }), h("span", { class: "at", text: "not reached" }), h("span", { text: m.name }))));
      }
    }

    function updateMilestoneList() {
      for (const li of $("milestones").querySelectorAll("li[data-step]")) {
        li.classList.toggle("reached", parseInt(li.dataset.step, 10) <= view.step);
      }
    }

    // ------------------------------------------------------------------ map
    function prepareTrajectory(traj) {
      traj.byMap = new Map(traj.areas.map((a) => [a.map_id, a]));
    }

    function positionAt(step) {
      const t = view.traj;
      if (!t) return null;
      const i = Math.max(0, bisectRight(t.points.step, step));
      return { map: t.points.map[i], x: t.points.x[i], y: t.points.y[i], index: i };
    }

    function areaLayer(area) {
      // The static layer of an area (map image or grid, heatmap, whole path), drawn once per area.
      if (view.areaCache.has(area.map_id)) return view.areaCache.get(area.map_id);
      const entry = { ready: false, canvas: null, cell: 16, ox: 0, oy: 0 };
      view.areaCache.set(area.map_id, entry);
      const url = area.image ? source.areaUrl(view.episode, area.map_id) : null;
      const build = (image) => {
        let width = area.width, height = area.height, ox = 0, oy = 0;
        if (!image) {
          ox = Math.min(0, area.bounds[0]); oy = Math.min(0, area.bounds[1]);
          width = Math.max(area.width, area.bounds[2] + 1) - ox; height = Math.max(area.height, area.bounds[3] + 1) - oy;
        }
        const cell = image ? Math.max(1, Math.round(image.naturalWidth / area.width))
          : Math.max(4, Math.min(16, Math.floor(480 / Math.max(width, height))));
        const canvas = document.createElement("canvas");
        canvas.width = width * cell; canvas.height = height * cell;
        const g = canvas.getContext("2d");
        if (image) {
          g.imageSmoothingEnabled = false;
          g.drawImage(image, 0, 0);
          g.fillStyle = "rgba(255,255,255,0.18)";
          g.fillRect(0, 0, canvas.width, canvas.height);
        } else {
          g.fillStyle = "#f3f5f8"; g.fillRect(0, 0, canvas.width, canvas.height);
          g.strokeStyle = "#e2e6ec"; g.lineWidth = 1;
          for (let x = 0; x <= width; x++) { g.beginPath(); g.moveTo(x * cell + .5, 0); g.lineTo(x * cell + .5, canvas.height); g.stroke(); }
          for (let y = 0; y <= height; y++) { g.beginPath(); g.moveTo(0, y * cell + .5); g.lineTo(canvas.width, y * cell + .5); g.stroke(); }
        }
        if ($("show-heat").checked && area.visits.length) {
          const top = Math.log1p(Math.max(...area.visits.map((v) => v[2])));
          for (const [x, y, n] of area.visits) {
            g.fillStyle = "rgba(230,60,20," + (0.15 + 0.6 * Math.log1p(n) / top).toFixed(3) + ")";
            g.fillRect((x - ox) * cell, (y - oy) * cell, cell, cell);
          }
        }
        if ($("show-path").checked) {
          const t = view.traj.points;
          g.strokeStyle = "rgba(40,80,200,0.45)"; g.lineWidth = Math.max(1, cell / 6);
          g.beginPath();
          let last = null;
          for (let i = 0; i < t.step.length; i++) {
            if (t.map[i] !== area.map_id) { last = null; continue; }
            const px = (t.x[i] - ox + .5) * cell, py = (t.y[i] - oy + .5) * cell;
            if (last && Math.abs(t.x[i] - last[0]) + Math.abs(t.y[i] - last[1]) <= 2) g.lineTo(px, py); else g.moveTo(px, py);
            last = [t.x[i], t.y[i]];
          }
          g.stroke();
        }
          Object.assign(entry, { ready: true, canvas: canvas, cell: cell, ox: ox, oy: oy });
        drawMap();
      };
      if (url) {
        const image = new Image();
        image.onload = () => build(image);
        image.onerror = () => build(null);
        image.src = url;
      } else {
        build(null);
      }
      return entry;
    }

    function drawMap() {
      const canvas = $("map");
      if (!view.traj) return;
      const here = positionAt(view.step);
      if (!here) return;
      const area = view.traj.byMap.get(here.map);
      if (!area) return;
      $("area-name").textContent = area.name + " (map " + area.map_id + ") · (" + here.x + ", " + here.y + ")";
      const layer = areaLayer(area);
      if (!layer.ready) return;
      if (!canvas.dataset.map) mark("longplay-map");
      canvas.dataset.map = String(area.map_id);
      if (canvas.width !== layer.canvas.width || canvas.height !== layer.canvas.height) {
        canvas.width = layer.canvas.width; canvas.height = layer.canvas.height;
      }
      const g = canvas.getContext("2d");
      g.imageSmoothingEnabled = false;
      g.drawImage(layer.canvas, 0, 0);
      const cell = layer.cell, t = view.traj.points;
      // the recent trail: the last 60 moves on this map
      g.strokeStyle = "rgba(20,40,160,0.9)"; g.lineWidth = Math.max(2, cell / 4);
      g.beginPath();
      let last = null;
      for (let i = Math.max(0, here.index - 60); i <= here.index; i++) {
        if (t.map[i] !== area.map_id) { last = null; continue; }
        const px = (t.x[i] - layer.ox + .5) * cell, py = (t.y[i] - layer.oy + .5) * cell;
        if (last && Math.abs(t.x[i] - last[0]) + Math.abs(t.y[i] - last[1]) <= 2) g.lineTo(px, py); else g.moveTo(px, py);
        last = [t.x[i], t.y[i]];
      }
      g.stroke();
      const cx = (here.x - layer.ox + .5) * cell, cy = (here.y - layer.oy + .5) * cell;
      g.fillStyle = "#ffd400"; g.strokeStyle = "#1c2128"; g.lineWidth = 2;
      g.beginPath(); g.arc(cx, cy, Math.max(4, cell * 0.42), 0, Math.PI * 2); g.fill(); g.stroke();
      const box = canvas.parentElement;
      const scale = canvas.clientWidth / canvas.width || 1;
      if (box.scrollHeight > box.clientHeight) box.scrollTop = Math.max(0, cy * scale - box.clientHeight / 2);
    }

    // ------------------------------------------------------------------ details
    function renderDetails(details, error) {
      const dl = clear($("state"));
      const row = (label, value, cls) => { dl.appendChild(h("dt", { text: label })); dl.appendChild(h("dd", { class: cls, text: value })); };
      if (!details) { row("error", error || "unavailable"); return; }
      row("step", fmt.int(details.step) + " of " + fmt.int(details.steps));
      row("next button", details.action || "— (last step)");
      if (details.reward) row("reward", fmt.num(details.reward));
      const st = details.state;
      if (st) {
        row("mode", st.mode);
        row("map", st.map_name + " (" + st.map_id + ")");
        row("position", "(" + st.x + ", " + st.y + ") facing " + st.facing);
        row("money", fmt.int(st.money));
        row("badges", st.badges.length ? st.badges.join(", ") : "none");
        row("party", st.party.length ? st.party.map((m) => m.species + " Lv" + m.level + " " + m.hp + "/" + m.max_hp + " HP").join(" · ") : "none");
        if (st.bag.length) row("bag", st.bag.map((b) => b[0] + " ×" + b[1]).join(", "));
        if (st.dialog) row("dialog", st.dialog, "dialog");
      } else {
        const here = positionAt(details.step);
        if (here) row("position", "map " + here.map + " (" + here.x + ", " + here.y + ")");
        if (details.state_error) row("state", details.state_error);
      }
      renderTurns(details.lm);
      renderMemory(details.memory);
    }

    function renderTurns(lm) {
      const panel = $("lm-panel");
      panel.hidden = !run.has_turns;
      if (!run.has_turns) return;
      const box = clear($("turn"));
      if (!lm.turns.length) {
        box.appendChild(h("p", { class: "muted", text: "No model turn yet at this step." }));
      }
      for (const t of lm.turns) {
        const ago = view.step - t.step;
        const card = h("div", { class: "turn", "data-turn": t.turn },
          h("div", { class: "turn-head" }, h("span", { class: "title", text: "Turn " + t.turn }),
            t.kind ? h("span", { class: "chip", text: t.kind }) : null,
            h("span", { class: "muted", text: "started at step " + fmt.int(t.step) + (ago ? " (" + ago + " steps ago)" : " (this step)") })),
          h("div", { class: "metrics" },
            chip("in", fmt.tokens(t.tokens_in)), chip("out", fmt.tokens(t.tokens_out)),
            t.tokens_cache_read ? chip("cache read", fmt.tokens(t.tokens_cache_read)) : null,
            t.tokens_cache_write ? chip("cache write", fmt.tokens(t.tokens_cache_write)) : null,
            chip("cost", fmt.usd(t.cost_usd)), t.latency_s !== null ? chip("latency", fmt.seconds(t.latency_s)) : null),
          t.error ? h("div", { class: "error", text: "error: " + t.error }) : null,
          t.response ? h("pre", { class: "response", text: t.response }) : h("p", { class: "muted", text: "(no text)" }));
        for (const call of t.tool_calls || []) {
          const failed = call && (call.is_error || call.error);
          const args = call && call.arguments !== undefined ? call.arguments : call;
          card.appendChild(h("div", { class: "tool" + (failed ? " failed" : "") },
            h("span", { class: "tool-name", text: (call && call.name ? call.name : "tool") + (failed ? " (failed)" : "") }),
            h("code", { class: "tool-args", text: " " + (typeof args === "string" ? args : JSON.stringify(args)) }),
            call && call.result !== undefined ? h("pre", { class: "tool-result", text: typeof call.result === "string" ? call.result : JSON.stringify(call.result, null, 1) }) : null,
            call && call.error && typeof call.error === "string" ? h("div", { class: "error", text: call.error }) : null));
        }
        box.appendChild(card);
      }
      box.appendChild(h("div", { class: "spent", text: "Spent up to here: " + fmt.int(lm.spent.turns) + " turns · " +
        fmt.tokens(lm.spent.tokens) + " tokens · " + fmt.usd(lm.spent.cost_usd) + " (run total " + fmt.tokens(episodeInfo().tokens) + " tokens · " + fmt.usd(episodeInfo().cost_usd) + ")" }));
      box.appendChild(h("div", { class: "turn-nav" },
        h("button", { disabled: lm.prev_step === null, onclick: () => go(lm.prev_step), text: "\u25C0 previous turn" }),
        h("button", { disabled: lm.next_step === null, onclick: () => go(lm.next_step), text: "next turn \u25B6" })));
    }

    function renderMemory(memory) {
      const panel = $("memory-panel");
      panel.hidden = !run.has_memory;
      if (!run.has_memory) return;
      const box = clear($("memory"));
      if (!memory.length) box.appendChild(h("p", { class: "muted", text: "Nothing in memory yet at this step." }));
      for (const m of memory) {
        const item = h("details", { class: "memory-item", open: true, "data-name": m.name },
          h("summary", {}, m.name, h("span", { class: "when", text: "updated at step " + fmt.int(m.step) + " · " + m.updates + " update" + (m.updates === 1 ? "" : "s") })),
          h("pre", { class: "memory-content", text: formatMemory(m.content) }));
        box.appendChild(item);
      }
    }

    function chip(label, value) { return h("span", { class: "chip" }, label + " ", h("b", { text: value })); }

    // ------------------------------------------------------------------ start
    const startStep = EMBED ? EMBED.range[0] : Math.max(0, parseInt(params.get("step") || "0", 10) || 0);
    selectEpisode(view.episode, startStep, false);
    await firstPaint;
    document.body.dataset.ready = "1";
    mark("longplay-ready");
    await loadTrajectory(view.episode);
  }

  /** A performance mark (benchmarks/viewer_speed.py reads them: milliseconds since navigation). */
  function mark(name) {
    try { performance.mark(name); } catch (e) { /* old browsers */ }
  }

  function formatMemory(content) {
    if (typeof content === "string") return content;
    if (content && typeof content === "object" && !Array.isArray(content)) {
      const values = Object.values(content);
      if (values.length && values.every((v) => typeof v === "string")) {
        return Object.entries(content).map(([k, v]) => k + ": " + v).join("\n");
      }
      if (Array.isArray(content.stack)) {
        const lines = content.stack.slice().reverse().map((g, i) => (i === 0 ? "▶ " : "  ") + (typeof g === "string" ? g : JSON.stringify(g)));
        const done = Array.isArray(content.finished) && content.finished.length ? "\ndone:\n" + content.finished.map((g) => "  ✓ " + (typeof g === "string" ? g : JSON.stringify(g))).join("\n") : "";
        return (lines.join("\n") || "(empty stack)") + done;
      }
    }
    return JSON.stringify(content, null, 2);
  }

  function renderMeta(run) {
    const meta = clear($("run-meta"));
    const header = run.header;
    // the episode that reached the most, counted against its own world's catalog
    const best = run.episodes.reduce((top, e) => (!top || e.milestones.length > top.milestones.length ? e : top), null);
    const milestones = best ? best.milestones.length : 0;
    const catalogSize = (best && best.catalog || run.catalog).length;
    const steps = run.episodes.reduce((sum, e) => sum + e.steps, 0);
    const items = [["env", (header.env_id || "").replace(/^.*\//, "")], ["agent", header.agent], ["model", header.model],
      ["scaffold", run.scaffold], ["steps", fmt.int(steps) + (run.episodes.length > 1 ? " in " + run.episodes.length + " episodes" : "")],
      ["milestones", milestones + " / " + catalogSize], ["seed", header.seed],
      ["turns", run.has_turns ? fmt.int(run.turns) : null], ["tokens", run.has_turns ? fmt.tokens(run.tokens) : null],
      ["cost", run.has_turns ? fmt.usd(run.cost_usd) : null], ["date", fmt.date(header.created)],
      ["budget", budgetText(header.budget)], ["status", otherStatus(header.status)]];
    for (const [label, value] of items) {
      if (value === null || value === undefined || value === "") continue;
      meta.appendChild(h("span", { class: "chip" }, label + " ", h("b", { text: String(value) })));
    }
    for (const digest of new Set(run.episodes.map((e) => e.start_state).filter(Boolean))) meta.appendChild(stateBadge(digest));
    for (const badge of runMarks(run)) {
      if (badge) meta.appendChild(badge);
    }
  }

  // ====================================================================================== comparison page

  const AXIS_NAMES = { steps: "steps", tokens: "tokens", cost: "dollars", wall: "time" };

  async function initCompare() {
    const params = new URLSearchParams(window.location.search);
    const view = { list: [], selected: new Set(params.getAll("id")), axis: params.get("axis") || "steps",
      logx: params.get("log") === "1", data: null, hidden: new Set(), focus: null, seq: 0, folderUnreadable: [] };
    try {
      const list = await getJSON("/api/runs");
      view.list = list.runs;
      $("folder").textContent = "folder: " + list.folder;
      view.folderUnreadable = list.unreadable || [];
      showUnreadable($("compare-unreadable"), view.folderUnreadable);
    } catch (e) {
      showError("compare-error", "Could not load the run list: " + e.message);
      return;
    }
    if (view.selected.size === 0) view.list.slice(0, 20).forEach((r) => view.selected.add(r.id));

    $("pick-filter").addEventListener("input", renderPicker);
    $("pick-all").addEventListener("click", () => { pickerVisible().forEach((r) => view.selected.add(r.id)); renderPicker(); reload(); });
    $("pick-none").addEventListener("click", () => { view.selected.clear(); renderPicker(); reload(); });
    $("logx").checked = view.logx;
    $("logx").addEventListener("change", () => { view.logx = $("logx").checked; syncUrl(); renderChart(); });

    function pickerVisible() {
      const terms = $("pick-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
      return view.list.filter((r) => {
        const text = [r.id, r.env, r.agent, r.model, r.scaffold, r.label,
          ...(r.start_states || []).map((d) => "from state " + d.slice(0, 8))].filter(Boolean).join(" ").toLowerCase();
        return terms.every((t) => text.includes(t));
      });
    }

    function renderPicker() {
      const list = clear($("pick"));
      for (const r of pickerVisible()) {
        const box = h("input", { type: "checkbox", value: r.id, onchange: (e) => {
          if (e.target.checked) view.selected.add(r.id); else view.selected.delete(r.id);
          $("pick-count").textContent = view.selected.size + " selected";
          reload();
        } });
        box.checked = view.selected.has(r.id);
        list.appendChild(h("li", { "data-id": r.id }, h("label", {}, box, h("span", {},
          h("div", { text: [r.agent, r.model, r.scaffold].filter(Boolean).join(" · ") || r.id }),
          h("div", { class: "sub", text: r.env + " · seed " + r.seed + " · " + fmt.int(r.steps) + " steps · " + r.milestones + "/" + r.catalog_size + " · " + fmt.date(r.created) },
            (r.start_states || []).map(stateBadge))))));
      }
      $("pick-count").textContent = view.selected.size + " selected";
    }

    function syncUrl() {
      const url = apiUrl("/compare", { id: Array.from(view.selected), axis: view.axis !== "steps" ? view.axis : null, log: view.logx ? "1" : null });
      window.history.replaceState(null, "", url);
    }

    let reloadTimer = null;
    function reload() {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(load, 150);
    }

    async function load() {
      syncUrl();
      const seq = ++view.seq;
      if (view.selected.size === 0) {
        // Nothing selected: an empty chart (render reads the axis labels, kept from the last comparison).
        view.data = { runs: [], catalog: [], envs: [], axes: ["steps"], groups: [], time_to_milestone: [], unreadable: [],
          notes: [], horizons: {}, axis_labels: (view.data && view.data.axis_labels) || { steps: "steps" } };
        render();
        return;
      }
      try {
        const data = await getJSON(apiUrl("/api/compare", { id: Array.from(view.selected) }));
        if (seq !== view.seq) return;
        view.data = data;
        showError("compare-error", "");
        render();
      } catch (e) {
        showError("compare-error", "Could not compare these runs: " + e.message);
      }
    }

    function render() {
      const data = view.data;
      const axes = ["steps", "tokens", "cost", "wall"];
      const seg = clear($("axis"));
      for (const axis of axes) {
        const available = data.axes.includes(axis);
        seg.appendChild(h("button", { class: axis === view.axis ? "on" : "", "data-axis": axis, disabled: !available,
          title: available ? "milestones against " + data.axis_labels[axis] : "no selected run has a " + AXIS_NAMES[axis] + " axis",
          text: AXIS_NAMES[axis], onclick: () => { view.axis = axis; syncUrl(); render(); } }));
      }
      if (!data.axes.includes(view.axis)) view.axis = "steps";
      for (const b of seg.children) b.classList.toggle("on", b.dataset.axis === view.axis);
      // A color per configuration: its runs, its median curve and band, and its swatch in the tables share it.
      data.groups.forEach((g, i) => { g.color = COLORS[i % COLORS.length]; g.dash = i >= COLORS.length ? "6 3" : null; });
      const groupOf = new Map(data.groups.map((g) => [g.group, g]));
      data.runs.forEach((r) => {
        const g = groupOf.get(r.group) || { color: COLORS[0], dash: null };
        r.color = g.color; r.dash = g.dash; r.key = r.id + "#" + r.episode;
      });
      renderChart();
      renderTable();
      // the folder's unreadable files, and those of this comparison (none left over from the picks before)
      const bad = new Map(view.folderUnreadable.map((u) => [u.id, u]));
      (data.unreadable || []).forEach((u) => bad.set(u.id, u));
      showUnreadable($("compare-unreadable"), [...bad.values()]);
      showNotes(data.notes);
      if (document.body.dataset.ready !== "1") mark("longplay-ready");
      document.body.dataset.ready = "1";
    }

    /** compare's notes on the picked runs it left out (an episode of no recorded step: the run was killed, or is
     * still being recorded), one line each: without them such a run vanished from the page with no word. */
    function showNotes(notes) {
      const section = $("compare-notes");
      section.hidden = !notes || notes.length === 0;
      const list = clear(section.querySelector("ul"));
      for (const note of notes || []) list.appendChild(h("li", { text: note }));
    }

    /** A configuration's name without the " from state <digest>" compare appends: the page shows a badge. */
    function configurationName(item) {
      const suffix = item.start_state ? " from state " + item.start_state.slice(0, 8) : "";
      return suffix && item.configuration.endsWith(suffix) ? item.configuration.slice(0, -suffix.length) : item.configuration;
    }

    /** An AUC window on ``axis``, with its unit: "0 … 3,000 steps". */
    function windowOf(axis, horizon) {
      return "0 … " + fmt.axis(axis, horizon) + (axis === "steps" ? " steps" : axis === "tokens" ? " tokens" : "");
    }

    /** A run's label inside its env's chart and table: configuration, start state, seed, episode. */
    function label(r) {
      const parts = [r.configuration, "seed " + r.seed];
      if (r.episode) parts.push("ep. " + r.episode);
      return parts.join(" · ");
    }

    /** One chart per env: envs differ in budget and catalog, so their runs share no axes (as `longplay compare`
     * draws one panel per env), each with its groups' AUC over that env's window on the chosen axis. */
    function renderChart() {
      const data = view.data, axis = view.axis;
      const box = clear($("chart"));
      let drawn = 0, missing = 0, withMedians = 0;
      for (const env of data.envs) {
        const runs = data.runs.filter((r) => r.env_id === env.env_id);
        const onAxis = runs.filter((r) => r.curves[axis]);
        drawn += onAxis.length;
        missing += runs.length - onAxis.length;
        const horizon = env.horizons[axis];
        const windowText = horizon === undefined || horizon === null ? "" : " · AUC window " + windowOf(axis, horizon);
        const panel = h("figure", { class: "env-panel", "data-env": env.env_id },
          h("figcaption", {}, h("b", { class: "env-name", text: env.name }),
            h("span", { class: "sub", text: runs.length + " run" + (runs.length === 1 ? "" : "s") + windowText })));
        const medians = data.groups.filter((g) => g.env === env.env_id && g.runs > 1 && g.median_band[axis]);
        withMedians += medians.length;
        if (onAxis.length) panel.appendChild(drawChart(onAxis, medians, axis, Math.max(1, ...runs.map((r) => r.catalog_size)), data.envs.length > 1 ? 300 : 420));
        else panel.appendChild(h("p", { class: "muted empty", text: "No run of " + env.name + " has a " + AXIS_NAMES[axis] + " axis." }));
        panel.appendChild(scrollBox(aucTable(env, axis)));
        const legend = h("ul", { class: "legend" });
        for (const r of runs) {
          const has = !!r.curves[axis];
          legend.appendChild(h("li", { class: view.hidden.has(r.key) || !has ? "off" : "", "data-key": r.key, title: has ? r.run : "no " + AXIS_NAMES[axis] + " axis: " + r.run,
            onclick: () => { if (view.hidden.has(r.key)) view.hidden.delete(r.key); else view.hidden.add(r.key); renderChart(); } },
            h("span", { class: "swatch" }), [label(r), ...runMarkTexts(r)].join(" · ")));
          legend.lastChild.firstChild.style.background = r.color;
        }
        panel.appendChild(legend);
        box.appendChild(panel);
      }
      if (!data.envs.length) box.appendChild(h("p", { class: "muted empty", text: "No run selected: pick runs to compare in the list." }));
      $("chart-note").textContent = drawn + " run" + (drawn === 1 ? "" : "s") + " on this axis" +
        (missing ? " · " + missing + " without it" : "") + (data.envs.length > 1 ? " · one chart per env" : "") +
        " · | = stopped (censored), ● = finished" +
        (withMedians ? " · thick line: a configuration's median, band: its 95% interval" : "");
      box.dataset.curves = String(box.querySelectorAll("path.curve").length);
      for (const scroller of box.querySelectorAll(".table-scroll")) markOverflow(scroller);
    }

    /** One env's chart: its runs' step curves, x from 0 to its longest run, y to its largest catalog, and the
     * median curve of each configuration in ``groups`` (those of several runs) with its bootstrap band. */
    function drawChart(runs, groups, axis, catalogMax, H) {
      const svg = s("svg", { class: "chart", viewBox: "0 0 900 " + H, role: "img", "aria-label": "progress curves" });
      const W = 900, m = { l: 56, r: 18, t: 14, b: 46 };
      let xmax = 0;
      for (const r of runs) xmax = Math.max(xmax, ...r.curves[axis].x);
      for (const g of groups) xmax = Math.max(xmax, ...g.median_band[axis].x);
      if (!(xmax > 0)) xmax = 1;
      const tx = view.logx ? (v) => Math.log10(1 + v) : (v) => v;
      const X = (v) => m.l + tx(v) / tx(xmax) * (W - m.l - m.r);
      const Y = (v) => H - m.b - v / catalogMax * (H - m.t - m.b);
      // grid and ticks
      const yTicks = niceTicks(0, catalogMax, Math.min(catalogMax, 8)).filter((v) => Number.isInteger(v));
      for (const v of yTicks) {
        svg.appendChild(s("line", { class: "grid-line", x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }));
        const t = s("text", { x: m.l - 8, y: Y(v) + 4, "text-anchor": "end" }); t.textContent = String(v); svg.appendChild(t);
      }
      const xTicks = view.logx ? logTicks(xmax) : niceTicks(0, xmax, 7);
      for (const v of xTicks) {
        if (v > xmax) continue;
        svg.appendChild(s("line", { class: "grid-line", x1: X(v), x2: X(v), y1: m.t, y2: H - m.b }));
        const t = s("text", { x: X(v), y: H - m.b + 16, "text-anchor": "middle" }); t.textContent = fmt.axis(axis, v); svg.appendChild(t);
      }
      svg.appendChild(s("line", { class: "axis-line", x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
      svg.appendChild(s("line", { class: "axis-line", x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
      const xl = s("text", { x: (m.l + W - m.r) / 2, y: H - 8, "text-anchor": "middle" });
      xl.textContent = view.data.axis_labels[axis] + (view.logx ? " (log scale)" : "");
      svg.appendChild(xl);
      const yl = s("text", { x: 14, y: (m.t + H - m.b) / 2, "text-anchor": "middle", transform: "rotate(-90 14 " + (m.t + H - m.b) / 2 + ")" });
      yl.textContent = "milestones reached";
      svg.appendChild(yl);
      const toPath = (points) => points.map(([x, y], i) => (i ? "L" : "M") + X(x).toFixed(1) + " " + Y(y).toFixed(1)).join("");
      // each configuration's bootstrap band, under the runs: compare's points (median_band), its upper edge out and
      // its lower edge back
      const along = (c, ys) => c.x.map((x, i) => [x, ys[i]]);
      for (const g of groups) {
        const c = g.median_band[axis];
        svg.appendChild(s("path", { d: toPath(along(c, c.upper).concat(along(c, c.lower).reverse())) + "Z", class: "band",
          fill: g.color, "data-group": g.group }));
      }
      // curves
      for (const r of runs) {
        if (view.hidden.has(r.key)) continue;
        const c = r.curves[axis];
        const d = toPath(c.x.map((x, i) => [x, c.y[i]]));
        const member = groups.some((g) => g.group === r.group) ? " member" : "";
        const path = s("path", { d: d, class: "curve" + member + (view.focus && view.focus !== r.key ? " dim" : "") + (view.focus === r.key ? " focus" : ""),
          stroke: r.color, "stroke-dasharray": r.dash, "data-run": r.id, "data-episode": r.episode, "data-key": r.key });
        const title = s("title", {}); title.textContent = r.run + " — " + label(r) + ": " + r.milestones + " milestones"; path.appendChild(title);
        path.addEventListener("mouseenter", () => setFocus(r.key));
        path.addEventListener("mouseleave", () => setFocus(null));
        svg.appendChild(path);
        const end = c.x.length - 1;
        if (!r.finished) {
          svg.appendChild(s("line", { x1: X(c.x[end]), x2: X(c.x[end]), y1: Y(c.y[end]) - 6, y2: Y(c.y[end]) + 6, stroke: r.color, "stroke-width": 2 }));
        } else {
          svg.appendChild(s("circle", { cx: X(c.x[end]), cy: Y(c.y[end]), r: 4, fill: r.color }));
        }
      }
      // each configuration's median curve, over its runs
      for (const g of groups) {
        const c = g.median_band[axis];
        svg.appendChild(s("path", { d: toPath(along(c, c.median)), class: "median", stroke: g.color, "stroke-dasharray": g.dash,
          "data-group": g.group }));
      }
      return svg;
    }

    /** An env's groups with their AUC on ``axis`` over the env's window (compare's scores, bootstrap interval). */
    function aucTable(env, axis) {
      const table = h("table", { class: "ttm auc" });
      table.appendChild(h("thead", {}, h("tr", {}, h("th", { text: "configuration" }), h("th", { text: "runs" }),
        h("th", { text: "AUC", title: "mean fraction of each run's own catalog reached over the window (1 = everything at once): the area under the group's median curve" }),
        h("th", { text: "95% interval" }), h("th", { text: "window" }))));
      const body = h("tbody", {});
      for (const g of view.data.groups.filter((g) => g.env === env.env_id)) {
        const auc = g.auc[axis];
        const name = h("td", {});
        const swatch = h("span", { class: "swatch", title: "its runs, median curve and band on the chart" });
        swatch.style.background = g.color;
        name.appendChild(swatch);
        name.appendChild(h("span", { text: configurationName(g) }));
        const badge = stateBadge(g.start_state);
        if (badge) name.appendChild(badge);
        body.appendChild(h("tr", { "data-group": g.group }, name, h("td", {}, String(g.runs), groupMarks(g)),
          auc ? h("td", { class: "auc-value", text: auc.value.toFixed(3) }) :
            h("td", { class: "none", text: "n/a", title: "not every run of this group has a " + AXIS_NAMES[axis] + " axis" }),
          h("td", { text: auc ? auc.ci_low.toFixed(3) + " … " + auc.ci_high.toFixed(3) : "" }),
          h("td", { text: auc ? windowOf(axis, auc.horizon) : "" })));
      }
      table.appendChild(body);
      return table;
    }

    /** Highlights one curve (null: none) by restyling the drawn paths. Not by redrawing the chart: a path
     * replaced under the pointer never gets its mouseleave, and the highlight stuck after the pointer left. */
    function setFocus(key) {
      view.focus = key;
      for (const path of $("chart").querySelectorAll("path.curve")) {
        path.classList.toggle("focus", key !== null && path.dataset.key === key);
        path.classList.toggle("dim", key !== null && path.dataset.key !== key);
      }
    }

    /** Time to each milestone, per env: a table of its runs, rows its runs' catalog (a milestone not in a run's
     * world, as in longplay/Quest-v0's worlds per seed, shows as "·"), and, where a configuration has several
     * runs, a table of its configurations. */
    function renderTable() {
      const data = view.data, axis = view.axis;
      const box = clear($("ttm"));
      for (const env of data.envs) {
        const runs = data.runs.filter((r) => r.env_id === env.env_id);
        if (data.envs.length > 1) box.appendChild(h("h3", { class: "env-name", text: env.name }));
        const table = h("table", { class: "ttm", "data-env": env.env_id });
        const head = h("tr", {}, h("th", { text: "milestone" }));
        for (const r of runs) {
          const th = h("th", { title: r.run, "data-key": r.key }, h("span", { class: "swatch legend-swatch" }), label(r),
            runMarks(r));
          th.firstChild.style.cssText = "display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;";
          th.firstChild.style.background = r.color;
          head.appendChild(th);
        }
        table.appendChild(h("thead", {}, head));
        const body = h("tbody", {});
        for (const m of env.catalog) {
          const tr = h("tr", {}, h("td", { text: m.name, title: m.id }));
          for (const r of runs) {
            const times = r.times[axis];
            const v = times ? times[m.id] : undefined;
            if (!r.catalog.includes(m.id)) tr.appendChild(h("td", { class: "none", text: "·", title: "not in this run's world" }));
            else tr.appendChild(h("td", { class: v === undefined || v === null ? "none" : "", text: v === undefined || v === null ? (times ? "—" : "n/a") : fmt.axis(axis, v) }));
          }
          body.appendChild(tr);
        }
        const total = h("tr", {}, h("td", { text: "run ended at" }));
        for (const r of runs) total.appendChild(h("td", { class: "muted", text: r.end[axis] === undefined ? "n/a" : fmt.axis(axis, r.end[axis]) }));
        body.appendChild(total);
        table.appendChild(body);
        box.appendChild(scrollBox(table));
        const groups = data.groups.filter((g) => g.env === env.env_id);
        if (groups.some((g) => g.runs > 1)) {
          box.appendChild(h("h4", { class: "km-title", text: "By configuration: Kaplan-Meier median, 95% bootstrap interval " +
            "and runs that reached it (runs that stopped early count as censored)" }));
          box.appendChild(scrollBox(groupTable(env, groups, axis)));
        }
      }
      for (const scroller of box.querySelectorAll(".table-scroll")) markOverflow(scroller);
    }

    /** An env's configurations against its milestones: compare's Kaplan-Meier median time to each (its interval
     * and how many of the runs whose world has it reached it beneath), a column per configuration as the table
     * above has a column per run. */
    function groupTable(env, groups, axis) {
      const data = view.data;
      const table = h("table", { class: "ttm km", "data-env": env.env_id });
      const head = h("tr", {}, h("th", { text: "milestone" }));
      for (const g of groups) {
        const swatch = h("span", { class: "swatch" });
        swatch.style.background = g.color;
        head.appendChild(h("th", { "data-group": g.group, title: g.group }, swatch, configurationName(g),
          stateBadge(g.start_state), h("div", { class: "sub", text: g.runs + " run" + (g.runs === 1 ? "" : "s") },
            groupMarks(g))));
      }
      table.appendChild(h("thead", {}, head));
      const rows = new Map(data.time_to_milestone.filter((row) => row.axis === axis).map((row) => [row.group + "\n" + row.milestone, row]));
      const body = h("tbody", {});
      for (const m of env.catalog) {
        const tr = h("tr", {}, h("td", { text: m.name, title: m.id }));
        for (const g of groups) {
          const row = rows.get(g.group + "\n" + m.id);
          const held = data.runs.some((r) => r.group === g.group && r.catalog.includes(m.id));
          if (!held) tr.appendChild(h("td", { class: "none", text: "·", title: "not in this configuration's worlds" }));
          else if (!g.axes.includes(axis)) tr.appendChild(h("td", { class: "none", text: "n/a", title: "not every run of this configuration has a " + AXIS_NAMES[axis] + " axis" }));
          else if (!row) tr.appendChild(h("td", { class: "none", text: "not reached" }));  // no run reached it: compare lists none
          else {
            tr.appendChild(h("td", { class: row.median === null ? "none" : "" },
              row.median === null ? "not reached" : fmt.axis(axis, row.median),
              h("div", { class: "sub", text: fmt.axis(axis, row.ci_low) + " … " + (row.ci_high === null ? "∞" : fmt.axis(axis, row.ci_high)) +
                " · " + row.reached + "/" + row.runs, title: "95% bootstrap interval · runs that reached it / runs whose world has it" })));
          }
        }
        body.appendChild(tr);
      }
      table.appendChild(body);
      return table;
    }

    renderPicker();
    await load();
  }

  /** A table in a box that scrolls sideways when the table is wider than the page (a column per run): its
   * first column stays in view, and an edge shadow says more columns lie that way (overlay scrollbars, as
   * macOS draws them, show only while scrolling). */
  function scrollBox(table) {
    const box = h("div", { class: "table-scroll" }, table);
    box.addEventListener("scroll", () => markOverflow(box), { passive: true });
    return box;
  }

  /** Marks a scroll box whose content is wider than it (`overflows`), and which edges have more beyond them. */
  function markOverflow(box) {
    const overflows = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("overflows", overflows);
    box.classList.toggle("more-left", overflows && box.scrollLeft > 1);
    box.classList.toggle("more-right", overflows && box.scrollLeft + box.clientWidth < box.scrollWidth - 1);
  }

  window.addEventListener("resize", () => { for (const box of document.querySelectorAll(".table-scroll")) markOverflow(box); });

  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((k) => k >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  function logTicks(max) {
    const out = [0];
    for (let v = 1; v <= max * 1.0001; v *= 10) out.push(v);
    if (max < 1) return niceTicks(0, max, 5);
    return out;
  }

  // ====================================================================================== dispatch

  function start() {
    const page = document.body.dataset.page;
    const run = page === "index" ? initIndex : page === "run" ? initRun : page === "compare" ? initCompare : null;
    if (run) run().catch((e) => { showError(page === "run" ? "run-error" : page === "compare" ? "compare-error" : "list-error", String(e && e.message || e)); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
