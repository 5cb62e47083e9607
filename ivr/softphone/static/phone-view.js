// 12333 softphone, drawing: transcript bubbles, developer-panel exchanges and the menu tree.
// Loaded before phone.js. Every server string goes into the page with textContent, never as HTML.
'use strict';

const View = (() => {
  // Create an element with a class and (escaped) text.
  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Scroll a panel to its newest entry.
  function scrollToEnd(panel) {
    panel.scrollTop = panel.scrollHeight;
  }

  // Append a chat bubble (side 'hotline' or 'caller') to the transcript; return it.
  function addBubble(transcript, side, who, text) {
    const bubble = make('div', `bubble ${side}`);
    const label = make('span', 'who', who);
    label.lang = 'en';
    bubble.append(label, make('p', 'text', text));
    transcript.append(bubble);
    scrollToEnd(transcript);
    return bubble;
  }

  // Append a centred event line (silence, end of call) to the transcript.
  function addEvent(transcript, kind, text) {
    const line = make('p', `event ${kind}`, text);
    line.lang = 'en';
    transcript.append(line);
    scrollToEnd(transcript);
  }

  // Append one webhook request: method, URL, status, latency, node, form fields and TwiML.
  function addExchange(panel, turn, seq) {
    const box = make('article', 'exchange');
    const head = make('div', 'exchange-head');
    head.append(make('span', 'seq', `#${seq}`), make('span', 'method', turn.method),
      make('code', 'url', turn.url));
    const meta = make('div', 'exchange-meta');
    const ok = turn.status >= 200 && turn.status < 300;
    meta.append(make('span', `code ${ok ? 'ok' : 'bad'}`, turn.status ?? '—'),
      make('span', 'latency', `${Math.round(turn.elapsed_ms ?? 0)} ms`),
      make('span', 'node', `node ${turn.node || '—'}`));
    box.append(head, meta);
    const fields = Object.entries(turn.form || {});
    if (fields.length) {
      const body = make('tbody');
      for (const [name, value] of fields) {
        const row = make('tr');
        row.append(make('th', '', name), make('td', '', value));
        body.append(row);
      }
      const table = make('table', 'form');
      table.append(body);
      box.append(table);
    }
    box.append(make('pre', 'twiml', turn.twiml || '(no body)'));
    panel.append(box);
    scrollToEnd(panel);
  }

  // The text on an edge: its key, its kind, or both.
  function edgeLabel(edge) {
    if (!edge.key) return edge.kind;
    return edge.kind === 'option' ? edge.key : `${edge.key} ${edge.kind}`;
  }

  // Draw the menu from its start, then any node no edge reaches (the identity check).
  // A node is expanded once; meeting it again (a cycle) shows a back-reference.
  // Returns a Map from node name to its box, for highlighting.
  function drawMenu(container, data) {
    const nodes = new Map((data.nodes || []).map((node) => [node.name, node]));
    const boxes = new Map();
    // One node under the edge that leads to it, with its own edges below.
    const item = (name, edge) => {
      const li = make('li', edge ? `edge-${edge.kind}` : 'root');
      if (edge) li.append(make('span', 'edge-key', edgeLabel(edge)));
      const node = nodes.get(name);
      if (!node || boxes.has(name)) {
        const ref = make('span', node ? 'node backref' : 'node virtual', node ? `↩ ${name}` : name);
        if (node) ref.title = `${name}: drawn above`;
        li.append(ref);
        return li;
      }
      const box = make('div', `node type-${node.type}`);
      box.dataset.node = name;
      box.append(make('span', 'node-name', name), make('span', 'node-type', node.type));
      if (node.label) box.append(make('span', 'node-label', node.label));
      boxes.set(name, box);
      li.append(box);
      if ((node.edges || []).length) {
        const children = make('ul');
        for (const next of node.edges) children.append(item(next.target, next));
        li.append(children);
      }
      return li;
    };
    const tree = make('ul', 'tree');
    tree.append(item(data.start, null));
    const rest = [...nodes.keys()].filter((name) => !boxes.has(name));
    if (rest.length) tree.append(make('li', 'tree-note', 'Reached without a key (identity check, …)'));
    for (const name of rest) if (!boxes.has(name)) tree.append(item(name, null));
    container.replaceChildren(tree);
    return boxes;
  }

  // Scroll a panel (not the page) so that `target` is in view.
  function revealIn(panel, target) {
    const box = panel.getBoundingClientRect();
    const at = target.getBoundingClientRect();
    if (at.top < box.top || at.bottom > box.bottom) panel.scrollTop += at.top - box.top - box.height / 3;
    if (at.left < box.left || at.right > box.right) panel.scrollLeft += at.left - box.left - 16;
  }

  return { make, addBubble, addEvent, addExchange, drawMenu, revealIn };
})();
