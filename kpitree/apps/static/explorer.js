// kpitree explorer: the page's behaviour, plain JavaScript, no libraries, no network but
// this page's own server. Every word it shows comes from the server's catalog in the page's
// locale (`/api/messages`, asked with the page's own `?lang=`), and every number is written
// by the server's formatters (`*_text` fields): the page only writes numbers to edit them. Every text from the server is put in with textContent, never
// parsed as markup: node names, formulas and messages are data. Every string the server
// sends is read through `visible` first, so control characters and BiDi overrides in a
// model's owners or descriptions show as placeholders (`\x1b`, `\u202e`), as they do in
// kpitree's other displays (kpitree.model.escape.visible), instead of reordering the page.
"use strict";

(() => {
  const EXTERNAL = "#9aa0a6";
  const KIND = { metric: "metric", kpi: "KPI", input: "input" };
  // The page's `?lang=`, passed on to every request so the answers speak it too.
  const LANG = new URLSearchParams(window.location.search).get("lang");
  const words = { messages: {}, plurals: {}, decimal: ".", tag: "en" };

  // `text` (English source) in the page's locale, its `{field}`s filled in from `fields`.
  function t(text, fields) {
    const translated = words.messages[text] ?? text;
    return fill(translated, fields);
  }

  // A counted message (`key` of the server's `plurals`) by the locale's plural rules.
  function tn(key, n, fields) {
    const forms = words.plurals[key] || {};
    const category = new Intl.PluralRules(words.tag).select(n);
    const form = forms[category] ?? forms.other ?? Object.values(forms)[0] ?? "";
    return fill(form, { n: String(n), ...fields });
  }

  function fill(text, fields) {
    if (!fields) return text;
    return text.replace(/\{(\w+)\}/g, (whole, key) => (key in fields ? String(fields[key]) : whole));
  }

  function translatePage() {
    document.documentElement.lang = words.locale || "en";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
    for (const node of document.querySelectorAll("[data-i18n-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    }
    document.title = t("kpitree explorer");
  }

  // An owner's name as shown: "external" (inputs, nobody's lever) is a word, not a name.
  function ownerLabel(owner, kind) {
    return kind === "input" || owner === "external" ? t("external") : owner;
  }

  const state = {
    tree: null,
    colors: {},         // owner -> colour, the same as in the tree's other diagrams
    views: {},          // node name -> its elements on the page
    values: {},         // leaf -> value asked for (number or text as typed)
    accepted: {},       // leaf -> value the server accepted (numbers)
    lastEdited: null,
    inFlight: false,
    pending: false,
    seq: { levers: 0, goal: 0 },
    solved: null,
    scenarios: [],
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // A name that may break after each `_` when its column is narrow (`<wbr>`: copied
  // text stays the name).
  function breakable(tag, className, name) {
    const node = el(tag, className);
    String(name).split(/(?<=_)/).forEach((part, i) => {
      if (i) node.append(el("wbr"));
      node.append(part);
    });
    return node;
  }

  function option(value, label) {
    const node = el("option", null, label);
    node.value = value;
    return node;
  }

  // -- talking to the server ------------------------------------------------------------------

  // C0 controls but newline, DEL, C1 controls, BiDi marks, embeddings, overrides and
  // isolates, line separators, lone surrogates: the set of kpitree.model.escape.visible.
  const INVISIBLE =
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\p{Cs}/gu;

  function visible(text) {
    return text.replace(INVISIBLE, (c) => {
      const code = c.codePointAt(0);
      return code < 0x100
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : `\\u${code.toString(16).padStart(4, "0")}`;
    });
  }

  function readJSON(text) {
    return JSON.parse(text, (key, value) => (typeof value === "string" ? visible(value) : value));
  }

  async function api(method, path, body) {
    if (LANG) path += `?lang=${encodeURIComponent(LANG)}`;
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw { message: t("the server cannot be reached: is `kpitree serve` still running?") };
    }
    let data;
    try {
      data = readJSON(await response.text());
    } catch (err) {
      data = { error: { message: t("the server answered {status} without JSON", { status: response.status }) } };
    }
    if (!response.ok) {
      const error = data.error || { message: t("the server answered {status}", { status: response.status }) };
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function errorText(err) {
    let text = (err && err.message) || String(err);
    if (err && err.hint) text += `\n${t("hint: {hint}", { hint: err.hint })}`;
    return text;
  }

  function showMessage(text, kind) {
    const box = $("message");
    box.textContent = text || "";
    box.className = kind ? `message ${kind}` : "message";
    box.hidden = !text;
  }

  // -- numbers as people edit them --------------------------------------------------------------

  // A value as typed back into a box: plain digits with the locale's decimal sign (`0,85`
  // under ru), which the server reads in the same locale. Shown values are the server's.
  function editable(value, percent) {
    if (value === null || value === undefined) return "";
    const x = percent ? value * 100 : value;
    const text = String(Number(x.toPrecision(12))).replace(".", words.decimal).replace("-", "−");
    return percent ? `${text}%` : text;
  }

  function colorOf(owner) {
    return (owner && state.colors[owner]) || EXTERNAL;
  }

  // -- the tree -----------------------------------------------------------------------------------

  function renderLegend(tree) {
    const legend = $("legend");
    legend.replaceChildren();
    state.colors = tree.colours;
    Object.keys(tree.owners).forEach((owner) => {
      const item = el("li");
      const swatch = el("span", "swatch");
      swatch.style.setProperty("--owner", state.colors[owner]);
      item.append(swatch, el("span", null, owner));
      legend.append(item);
    });
    const metric = el("li");
    metric.append(el("span", "swatch metric"), el("span", null, t("metric (computed)")));
    const input = el("li");
    input.append(el("span", "swatch external"), el("span", null, t("input (external, nobody's lever)")));
    legend.append(metric, input);
  }

  function renderTree(tree) {
    const box = $("tree");
    box.replaceChildren();
    state.views = {};
    for (const row of tree.layout) {
      const node = tree.nodes[row.name];
      const card = el("div", `node ${node.kind} depth${row.depth}${row.again ? " again" : ""}`);
      card.style.setProperty("--depth", String(row.depth));
      if (node.kind !== "metric") card.style.setProperty("--owner", colorOf(node.owner));
      card.dataset.name = node.name;
      const head = el("div", "node-head");
      head.append(el("span", "node-name", node.name));
      box.append(card);
      card.append(head);
      if (row.again) {
        head.append(el("span", "badge", t("↑ shown above")));
        continue;
      }
      head.append(el("span", "badge kind", t(KIND[node.kind] || node.kind)));
      if (node.kind === "metric") head.append(el("span", "formula", `= ${node.formula}`));
      if (node.kind === "metric" && node.target_text) {
        head.append(el("span", "badge target", t("target {value}", { value: node.target_text })));
      }
      if (node.kind === "kpi") {
        const owner = el("span", "badge owner", node.owner);
        owner.style.setProperty("--owner", colorOf(node.owner));
        head.append(owner, el("span", "badge horizon", t("horizon {horizon}", { horizon: node.horizon })));
        if (node.influenced_by.length) {
          head.append(el("span", "badge", t("influenced by {names}", { names: node.influenced_by.join(", ") })));
        }
      }
      if (node.kind === "input") head.append(el("span", "badge", t("external")));
      const view = { card, node };
      if (node.norm) {
        view.norm = el("span", "badge norm");
        head.append(view.norm);
      }
      if (node.description) card.title = node.description;
      const values = el("div", "values");
      view.before = el("span", "before");
      view.arrow = el("span", "arrow", "→");
      view.after = el("span", "after");
      view.change = el("span", "change");
      values.append(view.before, view.arrow, view.after, view.change);
      card.append(values);
      if (node.kind !== "metric") addControl(card, node, view);
      if (node.standards && node.standards.length) addStandards(card, node);
      state.views[node.name] = view;
      showNode(view, {
        before: node.value, after: node.value, delta: 0,
        before_text: node.value_text, after_text: node.value_text, ok: node.ok,
      });
    }
  }

  // A KPI's standards, under it: the practice as written, its rule and whether it is met
  // (a measurement is not a leaf, so the page has none: "not measured").
  function addStandards(card, node) {
    const list = el("ul", "standards");
    list.setAttribute("aria-label", t("standard"));
    for (const standard of node.standards) {
      const item = el("li", "standard");
      const mark = standard.ok === true ? "✓" : standard.ok === false ? "✗" : "?";
      const verdict = standard.ok === true ? t("met") : standard.ok === false ? t("not met") : t("not measured");
      item.append(el("span", `mark ${standard.ok === true ? "ok" : standard.ok === false ? "bad" : ""}`, mark));
      item.append(el("span", "standard-text", standard.name ? `${standard.name} ${standard.norm}` : standard.text));
      item.append(el("span", "note", verdict));
      list.append(item);
    }
    card.append(list);
  }

  function addControl(card, node, view) {
    const control = el("div", "control");
    const slider = el("input");
    slider.type = "range";
    slider.min = String(node.range.min);
    slider.max = String(node.range.max);
    slider.step = String(node.range.step);
    slider.value = String(node.value ?? node.range.min);
    slider.setAttribute("aria-label", t("{name}: slider", { name: node.name }));
    slider.dataset.leaf = node.name;
    const box = el("input");
    box.type = "text";
    box.inputMode = "decimal";
    box.value = editable(node.value, node.percent);
    box.setAttribute("aria-label", t("{name}: value", { name: node.name }));
    box.dataset.leaf = node.name;
    const ends = { low: node.range.min_text, high: node.range.max_text };
    const note = el("span", "range-note", t("range {low} … {high}", ends));
    control.append(slider, box, note);
    const error = el("div", "field-error");
    error.hidden = true;
    card.append(control, error);
    slider.addEventListener("input", () => {
      box.value = editable(Number(slider.value), node.percent);
      setValue(node.name, Number(slider.value));
    });
    box.addEventListener("change", () => {
      const text = box.value.trim();
      setValue(node.name, text === "" ? node.value : text);
    });
    Object.assign(view, { slider, box, error });
  }

  function showNode(view, row) {
    const moved = row.delta !== 0;
    view.before.textContent = row.before_text;
    view.before.dataset.value = String(row.before);
    view.after.textContent = row.after_text;
    view.after.dataset.value = String(row.after);
    view.before.hidden = !moved;
    view.arrow.hidden = !moved;
    view.change.hidden = !moved;
    view.change.textContent = moved ? row.change_text || "" : "";
    view.change.className = `change ${row.verdict || "neutral"}`;
    view.card.classList.toggle("moved", moved);
    if (view.norm) {
      const mark = row.ok === true ? "✓" : row.ok === false ? "✗" : "?";
      view.norm.textContent = t("norm {norm} {mark}", { norm: view.node.norm, mark });
      view.norm.className = `badge norm ${row.ok === true ? "ok" : row.ok === false ? "bad" : ""}`;
    }
    if (view.slider && row.after !== null && row.after !== undefined) {
      const min = Number(view.slider.min);
      const max = Number(view.slider.max);
      if (row.after > max) view.slider.max = String(row.after);
      if (row.after < min) view.slider.min = String(row.after);
      view.slider.value = String(row.after);
      if (document.activeElement !== view.box || !view.box.classList.contains("invalid")) {
        view.box.value = editable(row.after, view.node.percent);
      }
    }
  }

  function setValue(name, value) {
    state.values[name] = value;
    state.lastEdited = name;
    requestEvaluate();
  }

  function fieldError(name, text) {
    const view = state.views[name];
    if (!view || !view.error) return;
    view.error.textContent = text || "";
    view.error.hidden = !text;
    view.box.classList.toggle("invalid", Boolean(text));
  }

  async function requestEvaluate() {
    if (state.inFlight) {
      state.pending = true;
      return;
    }
    state.inFlight = true;
    document.body.dataset.busy = "true";
    const sent = { ...state.values };
    try {
      const data = await api("POST", "/api/evaluate", { values: sent });
      state.accepted = data.values;
      for (const name of Object.keys(sent)) fieldError(name, "");
      showMessage("");
      for (const row of data.nodes) {
        const view = state.views[row.name];
        if (view) showNode(view, row);
      }
      showOwners(data.owners);
      refreshLevers();
    } catch (err) {
      let bad = (err.names || []).filter((n) => n in sent && sent[n] !== state.accepted[n]);
      if (!bad.length && state.lastEdited) bad = [state.lastEdited];
      for (const name of bad) {
        fieldError(name, errorText(err));
        if (name in state.accepted) state.values[name] = state.accepted[name];
        else delete state.values[name];
        const view = state.views[name];
        if (view && view.slider) {
          const fallback = name in state.accepted ? state.accepted[name] : view.node.value;
          view.slider.value = String(fallback);
        }
      }
      showMessage(errorText(err));
    } finally {
      state.inFlight = false;
      document.body.dataset.busy = "false";
      if (state.pending) {
        state.pending = false;
        requestEvaluate();
      }
    }
  }

  // Each owner's KPIs in the current scenario: how many moved, how many are below norm.
  function showOwners(owners) {
    const rows = $("owners-table").tBodies[0];
    rows.replaceChildren();
    for (const item of owners) {
      const tr = el("tr");
      tr.dataset.owner = item.owner;
      const who = el("td", "owner-cell");
      const swatch = el("span", "swatch");
      swatch.style.setProperty("--owner", colorOf(item.owner));
      who.append(swatch, document.createTextNode(` ${item.owner}`));
      const below = el("td", item.below ? "bad" : null, String(item.below));
      tr.append(who, el("td", item.moved ? "moved" : null, `${item.moved} / ${item.kpis}`), below);
      rows.append(tr);
    }
  }

  function resetAll() {
    state.values = {};
    for (const name of Object.keys(state.views)) fieldError(name, "");
    state.lastEdited = null;
    requestEvaluate();
  }

  // -- levers -------------------------------------------------------------------------------------

  function setupLevers(tree) {
    const metric = $("levers-metric");
    for (const name of tree.metrics) metric.append(option(name, name));
    const owner = $("levers-owner");
    for (const name of Object.keys(tree.owners)) owner.append(option(name, name));
    const within = $("levers-within");
    for (const h of tree.horizons) within.append(option(h.text, t("within {horizon}", { horizon: h.text })));
    $("levers-form").addEventListener("change", refreshLevers);
    $("levers-form").addEventListener("submit", (event) => event.preventDefault());
  }

  async function refreshLevers() {
    const metric = $("levers-metric").value;
    if (!metric) return;
    const body = { metric, values: state.accepted };
    const owner = $("levers-owner").value;
    const within = $("levers-within").value;
    if (owner) body.owner = owner;
    if (within) body.within = within;
    const seq = ++state.seq.levers;
    const rows = $("levers-table").tBodies[0];
    try {
      const data = await api("POST", "/api/sensitivity", body);
      if (seq !== state.seq.levers) return;
      const filters = [];
      if (data.within) filters.push(t("within {horizon}", { horizon: data.within }));
      if (data.owner) filters.push(t("owned by {owner}", { owner: data.owner }));
      const what = filters.length
        ? t("levers of {metric} ({filters})", { metric: data.metric, filters: filters.join(", ") })
        : t("sensitivity of {metric}", { metric: data.metric });
      $("levers-summary").textContent = tn("ranked", data.rows.length, { what, value: data.value_text });
      rows.replaceChildren();
      data.rows.forEach((row, i) => {
        const tr = el("tr");
        tr.dataset.name = row.name;
        const who = el("td", "owner-cell");
        const swatch = el("span", "swatch");
        swatch.style.setProperty("--owner", colorOf(row.owner));
        who.append(swatch, " ", breakable("span", null, ownerLabel(row.owner, row.kind)));
        tr.append(
          el("td", null, i + 1), breakable("td", "lever", row.name), who,
          el("td", null, row.horizon || "—"), el("td", null, row.value_text),
          el("td", "elasticity", row.elasticity_text), el("td", "impact", row.impact_text),
        );
        rows.append(tr);
      });
      if (!data.rows.length) {
        const tr = el("tr");
        const td = el("td", null, t("no lever matches these filters"));
        td.colSpan = 7;
        tr.append(td);
        rows.append(tr);
      }
      $("levers-owners").textContent = data.by_owner.length
        ? t("by owner (each +1%): {list}", {
          list: data.by_owner.map((o) => `${ownerLabel(o.owner)} ${o.text}`).join(" · "),
        })
        : "";
    } catch (err) {
      if (seq !== state.seq.levers) return;
      rows.replaceChildren();
      $("levers-summary").textContent = errorText(err);
      $("levers-owners").textContent = "";
    }
  }

  // -- goal seek ----------------------------------------------------------------------------------

  function leavesUnder(tree, metric) {
    const found = [];
    const seen = new Set();
    const stack = [metric];
    while (stack.length) {
      const name = stack.pop();
      if (seen.has(name)) continue;
      seen.add(name);
      const node = tree.nodes[name];
      if (node.kind === "metric") stack.push(...node.children);
      else found.push(name);
    }
    return tree.leaves.filter((name) => found.includes(name));
  }

  function setupGoal(tree) {
    const metric = $("goal-metric");
    for (const name of tree.metrics) metric.append(option(name, name));
    // The box starts at the metric's target when the tree sets one, else it is left empty.
    const fillTarget = () => {
      const node = tree.nodes[metric.value];
      $("goal-target").value = node && node.target !== null && node.target !== undefined
        ? editable(node.target, node.percent) : "";
    };
    const fillVary = () => {
      const vary = $("goal-vary");
      const kept = vary.value;
      vary.replaceChildren();
      for (const name of leavesUnder(tree, metric.value)) {
        const node = tree.nodes[name];
        vary.append(option(name, t("{name} ({owner})", { name, owner: ownerLabel(node.owner, node.kind) })));
      }
      if ([...vary.options].some((o) => o.value === kept)) vary.value = kept;
    };
    metric.addEventListener("change", () => {
      fillVary();
      fillTarget();
    });
    fillVary();
    fillTarget();
    $("goal-form").addEventListener("submit", (event) => {
      event.preventDefault();
      solve();
    });
    $("goal-apply").addEventListener("click", () => {
      if (!state.solved) return;
      setValue(state.solved.vary, state.solved.value);
    });
  }

  async function solve() {
    const result = $("goal-result");
    const text = $("goal-text");
    const apply = $("goal-apply");
    const body = {
      metric: $("goal-metric").value,
      target: $("goal-target").value.trim(),
      vary: $("goal-vary").value,
      values: state.accepted,
    };
    const seq = ++state.seq.goal;
    state.solved = null;
    try {
      const data = await api("POST", "/api/solve", body);
      if (seq !== state.seq.goal) return;
      result.hidden = false;
      if (data.feasible) {
        result.className = "result feasible";
        text.textContent = t("{vary} = {value} gives {metric} = {reached} (now {current}: {change})", {
          vary: data.vary, value: data.value_text, metric: data.metric, reached: data.reached_text,
          current: data.current_text, change: data.change_text || t("no change"),
        });
        state.solved = data;
        apply.hidden = false;
      } else {
        result.className = "result infeasible";
        let message = t("Infeasible: {message}", { message: data.message });
        if (data.needed_text) message += `\n${t("needed: {vary} = {value}", { vary: data.vary, value: data.needed_text })}`;
        text.textContent = message;
        apply.hidden = true;
      }
    } catch (err) {
      if (seq !== state.seq.goal) return;
      result.hidden = false;
      result.className = "result infeasible";
      text.textContent = errorText(err);
      apply.hidden = true;
    }
  }

  // -- scenarios ----------------------------------------------------------------------------------

  async function loadScenarios() {
    let data;
    try {
      data = await api("GET", "/api/scenarios");
    } catch (err) {
      $("saving-note").textContent = errorText(err);
      return;
    }
    state.scenarios = data.scenarios;
    $("scenario-save").disabled = !data.saving;
    $("saving-note").textContent = data.saving
      ? (data.scenarios.length ? "" : t("no scenario saved yet"))
      : t("saving is off: start the server with --scenarios DIR to save scenarios as values files");
    const list = $("scenario-list");
    list.replaceChildren();
    for (const scenario of data.scenarios) {
      const item = el("li");
      item.dataset.name = scenario.name;
      if (scenario.error) {
        item.append(el("span", null, scenario.name), el("span", "bad", scenario.error));
      } else {
        const label = el("label", "check");
        const box = el("input");
        box.type = "checkbox";
        box.value = scenario.name;
        label.append(box, document.createTextNode(` ${scenario.name}`));
        const count = Object.keys(scenario.values).length;
        const load = el("button", null, t("Load"));
        load.type = "button";
        load.addEventListener("click", () => {
          state.values = { ...scenario.values };
          state.lastEdited = null;
          requestEvaluate();
        });
        item.append(label, el("span", "note", tn("values", count)), load);
      }
      list.append(item);
    }
  }

  async function saveScenario(event) {
    event.preventDefault();
    const name = $("scenario-name").value.trim();
    const body = { name, values: state.accepted, overwrite: $("scenario-overwrite").checked };
    try {
      const data = await api("POST", "/api/scenarios", body);
      showMessage(t("saved scenario {name} ({file})", { name: data.name, file: data.file }), "info");
      await loadScenarios();
    } catch (err) {
      showMessage(errorText(err));
    }
  }

  async function compareScenarios() {
    const chosen = [...document.querySelectorAll("#scenario-list input:checked")].map((b) => b.value);
    const items = [...chosen];
    if ($("compare-current").checked) items.unshift({ name: t("current"), values: state.accepted });
    const table = $("compare-table");
    if (!items.length) {
      showMessage(t("choose scenarios to compare (tick them in the list)"));
      return;
    }
    try {
      const data = await api("POST", "/api/compare", { scenarios: items });
      const head = table.tHead.rows[0];
      head.replaceChildren(el("th", null, t("node")), el("th", null, t("model")));
      for (const name of data.names) head.append(el("th", null, name));
      const body = table.tBodies[0];
      body.replaceChildren();
      for (const row of data.rows) {
        const tr = el("tr");
        tr.dataset.name = row.name;
        tr.append(el("td", null, row.name), el("td", null, row.before_text));
        for (const cell of row.cells) {
          const td = el("td", null, cell.after_text);
          if (cell.change_text) td.append(" ", el("span", `change ${cell.verdict}`, cell.change_text));
          tr.append(td);
        }
        body.append(tr);
      }
      if (!data.rows.length) {
        const tr = el("tr");
        const td = el("td", null, t("no node changes in these scenarios"));
        td.colSpan = data.names.length + 2;
        tr.append(td);
        body.append(tr);
      }
      table.hidden = false;
      showMessage("");
    } catch (err) {
      showMessage(errorText(err));
    }
  }

  // -- start ----------------------------------------------------------------------------------------

  async function init() {
    let tree;
    try {
      Object.assign(words, await api("GET", "/api/messages"));
      translatePage();
      tree = await api("GET", "/api/tree");
    } catch (err) {
      showMessage(errorText(err));
      return;
    }
    state.tree = tree;
    $("title").textContent = tree.title;
    document.title = `kpitree — ${tree.title}`;
    renderLegend(tree);
    renderTree(tree);
    setupLevers(tree);
    setupGoal(tree);
    $("reset").addEventListener("click", resetAll);
    $("save-form").addEventListener("submit", saveScenario);
    $("compare").addEventListener("click", compareScenarios);
    if (tree.missing.length) {
      showMessage(t("leaves without a value: {names}; set them to see the metrics", { names: tree.missing.join(", ") }));
    }
    await Promise.all([requestEvaluate(), loadScenarios()]);
    document.body.dataset.ready = "true";
  }

  init();
})();
