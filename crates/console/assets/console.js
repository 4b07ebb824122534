// Switchyard console: the few things a server-rendered page cannot do alone. No library; every
// request goes to this server, with the session's CSRF token (the body's data-csrf).
"use strict";

(function () {
  const csrf = () => document.body.dataset.csrf || "";

  // Buttons that ask first.
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) e.preventDefault();
  });

  // "Select all" boxes of a table.
  document.querySelectorAll("input[data-select-all]").forEach((all) => {
    all.addEventListener("change", () => {
      const form = all.closest("form");
      form.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`).forEach((box) => { box.checked = all.checked; });
    });
  });

  // Graph nodes that are not links: Enter or Space clicks them.
  document.addEventListener("keydown", (e) => {
    const node = e.target.closest && e.target.closest("g.node");
    if (node && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); node.dispatchEvent(new MouseEvent("click", { bubbles: true })); }
  });

  async function post(url, fields) {
    const body = new URLSearchParams(fields);
    body.set("csrf", csrf());
    const response = await fetch(url, { method: "POST", body, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.json();
  }

  // ---- Live log: the watch stream read with fetch (named events, resumed after a drop) ----
  const live = document.getElementById("live");
  if (live) {
    const state = document.getElementById("live-state");
    let last = null;
    const show = (record) => {
      const li = document.createElement("li");
      li.className = "k-" + String(record.kind || "").replace(/[^a-z0-9-]/gi, "_");
      const seq = document.createElement("span"); seq.className = "seq"; seq.textContent = "#" + record.seq + " ";
      const kind = document.createElement("strong"); kind.textContent = record.kind + " ";
      const addr = document.createElement("code"); addr.textContent = record.address + " ";
      const when = document.createElement("time"); when.textContent = String(record.created_at || "").replace("T", " ").split(".")[0] + " ";
      const details = document.createElement("details");
      const summary = document.createElement("summary"); summary.textContent = "payload";
      const pre = document.createElement("pre"); pre.className = "json"; pre.textContent = JSON.stringify(record.payload, null, 2);
      details.append(summary, pre);
      li.append(seq, when, kind, addr, details);
      live.prepend(li);
      while (live.children.length > 500) live.lastElementChild.remove();
    };
    const connect = async () => {
      const headers = last ? { "Last-Event-ID": last } : {};
      try {
        const response = await fetch(live.dataset.stream, { headers, credentials: "same-origin" });
        // A session that ended is sent to the sign-in page: say so instead of retrying.
        const type = response.headers.get("content-type") || "";
        if (response.redirected || (response.ok && !type.startsWith("text/event-stream"))) {
          state.textContent = "signed out: reload the page to sign in again";
          return;
        }
        if (!response.ok) {
          const text = await response.text();
          state.textContent = `refused (${response.status}): ${text.slice(0, 300)}`;
          return;
        }
        state.textContent = "following";
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
            let id = null, event = "message";
            const data = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) id = line.slice(4);
              else if (line.startsWith("event: ")) event = line.slice(7);
              else if (line.startsWith("data: ")) data.push(line.slice(6));
            }
            if (!data.length) continue;
            if (id) last = id;
            const text = data.join("\n");
            if (event === "error") { state.textContent = "the stream reported: " + text; continue; }
            try { show(JSON.parse(text)); } catch (_) { /* a record we cannot read is skipped */ }
          }
        }
        state.textContent = "reconnecting…";
      } catch (_) {
        state.textContent = "connection lost; reconnecting…";
      }
      setTimeout(connect, 1000);
    };
    connect();
  }

  // ---- Flow editor: checked as typed, errors at their lines, graph preview, builder ----
  const editor = document.querySelector(".editor[data-check]");
  if (editor) {
    const textarea = document.getElementById("flow-yaml");
    const gutter = editor.querySelector(".gutter");
    const errorsList = document.getElementById("flow-errors");
    const preview = document.getElementById("flow-preview");
    const nodePanel = document.getElementById("b-node");
    let model = null;      // the definition the server last accepted (canonical JSON)
    let selected = null;   // the node the builder shows
    let errorLines = new Set();
    let pending = null, sequence = 0;

    const paintGutter = () => {
      const count = textarea.value.split("\n").length;
      const spans = [];
      for (let i = 1; i <= count; i++) spans.push(`<span${errorLines.has(i) ? ' class="has-error" title="error on this line"' : ""}>${i}</span>`);
      gutter.innerHTML = spans.join("");
      gutter.scrollTop = textarea.scrollTop;
    };
    textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });

    const goToLine = (line) => {
      const lines = textarea.value.split("\n");
      let at = 0;
      for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
      textarea.focus();
      textarea.setSelectionRange(at, at + (lines[line - 1] || "").length);
    };

    const showResult = (result) => {
      errorsList.textContent = "";
      errorLines = new Set();
      if (result.ok) {
        const li = document.createElement("li"); li.className = "ok"; li.textContent = "No errors.";
        errorsList.append(li);
        preview.innerHTML = result.svg;
        model = result.definition;
        renderNode();
      } else {
        // The builder edits only what the server accepted: text with errors is not overwritten.
        model = null;
        nodePanel.hidden = true;
      }
      for (const error of result.errors || []) {
        const li = document.createElement("li");
        li.dataset.line = error.line || "";
        li.textContent = (error.line ? `line ${error.line}: ` : "") + (error.path ? `${error.path}: ` : "") + error.message;
        if (error.line) { errorLines.add(error.line); li.tabIndex = 0; li.addEventListener("click", () => goToLine(error.line)); }
        errorsList.append(li);
      }
      paintGutter();
    };

    const check = () => {
      const mine = ++sequence;
      post(editor.dataset.check, { yaml: textarea.value })
        .then((result) => { if (mine === sequence) showResult(result); })
        .catch((e) => { if (mine === sequence) showResult({ ok: false, errors: [{ message: "cannot check: " + e.message }] }); });
    };
    textarea.addEventListener("input", () => { paintGutter(); clearTimeout(pending); pending = setTimeout(check, 300); });
    textarea.addEventListener("keydown", (e) => {
      if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey) { // two spaces, not leaving the field (Esc then Tab leaves)
        if (textarea.dataset.escaped === "1") { textarea.dataset.escaped = ""; return; }
        e.preventDefault();
        textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
        textarea.dispatchEvent(new Event("input"));
      } else if (e.key === "Escape") { textarea.dataset.escaped = "1"; }
    });
    paintGutter();
    check();

    // The builder edits `model` and asks the server for the YAML of the result.
    const rewrite = () => {
      if (!model) return;
      const mine = ++sequence;
      post(editor.dataset.yaml, { definition: JSON.stringify(model) })
        .then((result) => {
          if (mine !== sequence) return;
          if (result.yaml !== undefined) textarea.value = result.yaml;
          showResult(result);
          if (!result.ok) renderNode();
        })
        .catch((e) => { if (mine === sequence) showResult({ ok: false, errors: [{ message: "cannot rewrite: " + e.message }] }); });
    };
    const nodes = () => (model && Array.isArray(model.nodes) ? model.nodes : []);
    const edges = () => { if (!model.edges) model.edges = []; return model.edges; };

    document.getElementById("b-add").addEventListener("click", () => {
      if (!model) { showResult({ ok: false, errors: [{ message: "fix the errors first: the builder edits a valid flow" }] }); return; }
      const kind = document.getElementById("b-kind").value;
      const idInput = document.getElementById("b-id");
      let id = idInput.value.trim();
      if (!id) { let n = nodes().length + 1; while (nodes().some((x) => x.id === kind + n)) n++; id = kind + n; }
      if (nodes().some((x) => x.id === id)) { showResult({ ok: false, errors: [{ message: `a node ${id} exists` }] }); return; }
      const node = { id, kind };
      const defaults = { transform: { value: "input" }, set: { vars: {} }, condition: { if: "true" }, switch: { value: "input" },
        delay: { duration: "1s" }, wait: { event: "go" }, http: { url: "'https://example.com'" }, function: { function: "hello" },
        subflow: { flow: "other" }, publish: { topic: "events", message: "input" }, send_event: { instance: "'machine:id'", event: "go" },
        fail: { message: "'failed'" }, succeed: {} };
      Object.assign(node, defaults[kind] || {});
      if (selected && nodes().some((x) => x.id === selected)) edges().push({ from: selected, to: id });
      model.nodes.push(node);
      selected = id;
      idInput.value = "";
      rewrite();
    });

    preview.addEventListener("click", (e) => {
      const g = e.target.closest("g.node");
      if (!g) return;
      e.preventDefault();
      const id = g.dataset.node;
      if (connectFrom && connectFrom !== id && model) {
        edges().push({ from: connectFrom, to: id });
        connectFrom = null;
        selected = id;
        rewrite();
        return;
      }
      selected = id;
      renderNode();
    });
    let connectFrom = null;

    const el = (tag, attrs, ...children) => {
      const node = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs || {})) { if (k === "text") node.textContent = v; else node.setAttribute(k, v); }
      node.append(...children);
      return node;
    };
    const shown = (value) => (typeof value === "string" ? value : JSON.stringify(value));
    const typed = (text, before) => {
      if (typeof before === "string") return text;
      try { return JSON.parse(text); } catch (_) { return text; }
    };

    function renderNode() {
      preview.querySelectorAll("g.node").forEach((g) => g.classList.toggle("selected", g.dataset.node === selected));
      const node = nodes().find((x) => x.id === selected);
      nodePanel.textContent = "";
      if (!node) { nodePanel.hidden = true; return; }
      nodePanel.hidden = false;
      nodePanel.append(el("h4", { text: `Node ${node.id} (${node.kind})` }));
      for (const [key, value] of Object.entries(node)) {
        if (key === "id" || key === "kind") continue;
        const input = el("input", { value: shown(value), "aria-label": `${node.id} ${key}` });
        input.addEventListener("change", () => { node[key] = typed(input.value, value); rewrite(); });
        const remove = el("button", { type: "button", text: "×", "aria-label": `remove field ${key}` });
        remove.addEventListener("click", () => { delete node[key]; rewrite(); });
        nodePanel.append(el("div", { class: "field" }, el("label", { text: key }), input, remove));
      }
      const fieldName = el("input", { placeholder: "field", size: "10", "aria-label": "new field name" });
      const fieldValue = el("input", { placeholder: "value (CEL, or JSON)", "aria-label": "new field value" });
      const addField = el("button", { type: "button", text: "Add field" });
      addField.addEventListener("click", () => {
        const name = fieldName.value.trim();
        if (!name) return;
        node[name] = typed(fieldValue.value, /^[\[{0-9]|^(true|false)$/.test(fieldValue.value.trim()) ? null : "");
        rewrite();
      });
      nodePanel.append(el("div", { class: "row" }, fieldName, fieldValue, addField));
      const out = edges().filter((x) => x.from === node.id);
      const list = el("ul", { class: "edges" });
      out.forEach((edge) => {
        const remove = el("button", { type: "button", text: "Remove", "aria-label": `remove edge to ${edge.to}` });
        remove.addEventListener("click", () => { model.edges = edges().filter((x) => x !== edge); rewrite(); });
        list.append(el("li", {}, el("span", { text: `→ ${edge.to}${edge.when ? " when " + edge.when : ""}${edge.branch !== undefined ? " branch " + shown(edge.branch) : ""} ` }), remove));
      });
      nodePanel.append(el("h5", { text: "Edges out" }), list);
      const target = el("select", { "aria-label": "connect to" });
      nodes().filter((x) => x.id !== node.id).forEach((x) => target.append(el("option", { value: x.id, text: x.id })));
      const when = el("input", { placeholder: "when (CEL, optional)", "aria-label": "edge condition" });
      const connect = el("button", { type: "button", text: "Connect" });
      connect.addEventListener("click", () => {
        if (!target.value) return;
        const edge = { from: node.id, to: target.value };
        if (when.value.trim()) edge.when = when.value.trim();
        edges().push(edge);
        rewrite();
      });
      const pick = el("button", { type: "button", text: "Connect by clicking a node" });
      pick.addEventListener("click", () => { connectFrom = node.id; });
      const removeNode = el("button", { type: "button", text: "Remove node" });
      removeNode.addEventListener("click", () => {
        if (!window.confirm(`Remove node ${node.id} and its edges?`)) return;
        model.nodes = nodes().filter((x) => x.id !== node.id);
        model.edges = edges().filter((x) => x.from !== node.id && x.to !== node.id);
        selected = null;
        rewrite();
      });
      nodePanel.append(el("div", { class: "row" }, target, when, connect, pick), el("div", { class: "row" }, removeNode));
    }
  }
})();
