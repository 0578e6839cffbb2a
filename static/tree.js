/*
 * The topic tree: every topic seen, with its last value, message count and
 * rate. Rendering is throttled and only rows under expanded nodes get DOM,
 * so a flood of topics stays cheap.
 *
 * Bounded: at most `limits.treeTopics` topics (and TREE_NODES_PER_TOPIC
 * nodes per topic, TREE_PATH_CHARS characters of paths); past that the least
 * recently updated topic is evicted, with its empty ancestors, and counted in
 * a note under the tree. Payload previews take at most
 * `limits.treePayloadMiB` in all; past that the least recently updated
 * topics keep their counts but not their payload. The selected topic and
 * pinned ones (the chart's) are never evicted. Each message costs O(depth)
 * plus amortised O(1) evictions; no DOM work happens per message.
 */

import { CONFIG, limits } from './config.js';
import { ui, h, notice } from './dom.js';
import { makeRate, rateHit, rateValue, formatRate, previewText, compareNames } from './format.js';
import { renderDetail, showDetail } from './detail.js';
import { RecencyQueue } from './lru.js';

/** The children of every leaf: one shared empty map, replaced by its own on the first child. */
const NO_CHILDREN = new Map();

function makeNode(name, path, parent, depth) {
  return {
    name, path, parent, depth,
    children: NO_CHILDREN,
    kidOrder: null,    // children that have DOM elements, sorted by name (created with the first)
    last: null,        // last message on exactly this topic
    count: 0,          // messages on exactly this topic
    subCount: 0,       // messages on this topic and below
    topics: 0,         // topics with messages at or below this node
    rate: null,
    // Kept by the chart panel (chart-panel.js):
    history: null,     // [{ t, p }] short utf8 payloads, for the chart
    numeric: false,    // payload seen to carry numbers
    numProbeAt: 0,
    expanded: true,
    userToggled: false,
    gone: false,       // evicted: no longer in the tree (a render may still hold it)
    el: null,
  };
}

/** The topics seen, as a tree of nodes; `byPath` indexes every node by its topic. */
export const tree = {
  root: makeNode('', '', null, -1),
  byPath: new Map(),
  dirty: new Set(),
  active: new Set(),   // nodes whose rate is shown as non-zero
  timer: 0,
  lastRender: 0,
  selected: null,
  topicCount: 0,
  nodeCount: 0,
  pathChars: 0,        // sum of the nodes' path lengths
  // Topic nodes by last update, oldest first: the eviction order.
  lru: new RecencyQueue(),
  // Nodes whose last message keeps its payload, by last update, with the
  // payload's kept bytes; and their sum.
  payloads: new RecencyQueue(),
  payloadBytes: 0,
  evicted: 0,          // topics evicted since the page loaded
  payloadsDropped: 0,  // payloads dropped to stay within treePayloadMiB
  pins: new Set(),     // paths never evicted (the chart's topic)
};
tree.root.expanded = true;

/** `fn(node)` runs when a topic's node leaves the tree (or only its message does). */
const evictListeners = [];
export function onTopicEvicted(fn) {
  evictListeners.push(fn);
}

/** Never evict `path` (until unpinned): the chart panel pins its topic. */
export function pinTopic(path, pinned) {
  if (pinned) tree.pins.add(path);
  else tree.pins.delete(path);
}

/** The levels of a topic, the last one holding whatever lies beyond TREE_MAX_DEPTH. */
function levels(topic) {
  const segs = topic.split('/');
  if (segs.length <= CONFIG.TREE_MAX_DEPTH) return segs;
  const head = segs.slice(0, CONFIG.TREE_MAX_DEPTH - 1);
  head.push(segs.slice(CONFIG.TREE_MAX_DEPTH - 1).join('/'));
  return head;
}

function addChild(node, seg, path, depth) {
  // The name is cut from the path, which the node keeps anyway: a segment
  // from split() would keep the whole topic string alive.
  const child = makeNode(path.slice(path.length - seg.length), path, node, depth);
  // Small trees open fully; big ones start collapsed (only shown rows get DOM).
  child.expanded = tree.byPath.size < CONFIG.TREE_AUTO_EXPAND_NODES;
  if (node.children === NO_CHILDREN) node.children = new Map();
  node.children.set(child.name, child);
  tree.byPath.set(path, child);
  tree.nodeCount++;
  tree.pathChars += path.length;
  if (node !== tree.root && node.expanded && !node.userToggled &&
      node.children.size > CONFIG.TREE_AUTO_COLLAPSE_CHILDREN) {
    node.expanded = false;
  }
  tree.dirty.add(node); // parent now has children (twisty)
  return child;
}

/**
 * Count a message in the tree; returns its topic's node. `m` (see
 * onMessage in app.js) becomes the node's last message and keeps the node's
 * path as its topic, so that the tree holds one copy of each topic.
 */
export function treeAdd(m) {
  const segs = levels(m.topic);
  let node = tree.root;
  node.subCount++;
  let path = '';
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    path = i === 0 ? seg : path + '/' + seg;
    node = node.children.get(seg) || addChild(node, seg, path, i);
    node.subCount++;
    tree.dirty.add(node);
  }
  if (node.count === 0) {
    for (let n = node; n; n = n.parent) n.topics++;
    tree.topicCount++;
    addKnownTopic(node.path);
  }
  m.topic = node.path;
  node.count++;
  setLast(node, m);
  tree.lru.touch(node, true);
  if (!node.rate) node.rate = makeRate();
  rateHit(node.rate, m.t);
  tree.active.add(node);
  enforceTreeBounds();
  scheduleTreeRender();
  return node;
}

function setLast(node, m) {
  const had = tree.payloads.delete(node);
  if (had !== undefined) tree.payloadBytes -= had;
  node.last = m;
  if (!m.dropped) {
    tree.payloads.touch(node, m.kept);
    tree.payloadBytes += m.kept;
  }
}

/** The topic may be evicted: neither selected nor pinned. */
function evictable(node) {
  return node !== tree.selected && !tree.pins.has(node.path);
}

/**
 * Evict and drop until the tree is within its limits again. Pinned topics
 * met on the way go to the back of the queue; each pass ends after one
 * round, so a tree of pinned topics cannot loop.
 */
export function enforceTreeBounds() {
  const payloadBudget = limits.treePayloadMiB * 1024 * 1024;
  for (let spare = tree.payloads.size; tree.payloadBytes > payloadBudget && spare > 0; spare--) {
    const node = tree.payloads.oldest();
    if (evictable(node)) dropPayload(node);
    else tree.payloads.touch(node, tree.payloads.get(node));
  }
  const maxNodes = limits.treeTopics * CONFIG.TREE_NODES_PER_TOPIC;
  for (let spare = tree.lru.size; spare > 0 && (tree.topicCount > limits.treeTopics ||
      tree.nodeCount > maxNodes || tree.pathChars > CONFIG.TREE_PATH_CHARS); spare--) {
    const node = tree.lru.oldest();
    if (evictable(node)) evictTopic(node);
    else tree.lru.touch(node, true);
  }
}

function dropPayload(node) {
  const m = node.last;
  tree.payloads.delete(node);
  tree.payloadBytes -= m.kept;
  node.last = Object.assign({}, m, { payload: '', kept: 0, dropped: true });
  tree.payloadsDropped++;
  tree.dirty.add(node);
}

/** Remove a topic: its message, its counts, and its nodes that hold nothing else. */
function evictTopic(node) {
  tree.lru.delete(node);
  const kept = tree.payloads.delete(node);
  if (kept !== undefined) tree.payloadBytes -= kept;
  tree.active.delete(node);
  for (let n = node; n; n = n.parent) {
    n.topics--;
    n.subCount -= node.count;
  }
  tree.topicCount--;
  tree.evicted++;
  node.count = 0;
  node.last = null;
  node.rate = null;
  for (const fn of evictListeners) fn(node);
  prune(node);
}

/** Remove `node` and its ancestors while they hold no message and no children. */
function prune(node) {
  let n = node;
  while (n !== tree.root && n.count === 0 && n.children.size === 0 && evictable(n)) {
    const parent = n.parent;
    parent.children.delete(n.name);
    tree.byPath.delete(n.path);
    tree.nodeCount--;
    tree.pathChars -= n.path.length;
    tree.dirty.delete(n);
    n.gone = true;
    if (n.el) removeNodeElement(n);
    n = parent;
  }
  if (n !== tree.root) tree.dirty.add(n);
}

function removeNodeElement(node) {
  const sibs = node.parent.kidOrder;
  const i = sortedIndex(sibs, node.name) - 1;
  if (sibs[i] === node) sibs.splice(i, 1);
  node.el.remove();
  node.el = null;
}

/** Index after the last sibling whose name sorts before or equal to `name`. */
function sortedIndex(sibs, name) {
  let lo = 0;
  let hi = sibs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareNames(sibs[mid].name, name) > 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function scheduleTreeRender() {
  if (tree.timer) return;
  const wait = Math.max(0, CONFIG.TREE_RENDER_MS - (Date.now() - tree.lastRender));
  tree.timer = setTimeout(renderTree, wait);
}

function renderTree() {
  tree.timer = 0;
  tree.lastRender = Date.now();
  const now = Date.now();
  let budget = CONFIG.TREE_NODES_PER_RENDER;
  for (const node of tree.dirty) {
    tree.dirty.delete(node);
    // Nodes under a collapsed parent are rendered when it is expanded.
    if (node === tree.root || node.gone || !isShown(node)) continue;
    renderNode(node, now);
    if (--budget <= 0) break;
  }
  ui.treeCount.textContent = String(tree.topicCount);
  ui.tree.classList.toggle('is-empty', tree.topicCount === 0);
  renderTreeNote();
  if (tree.selected) renderDetail(tree.selected, now);
  if (tree.dirty.size) scheduleTreeRender(); // a burst of new topics: spread over renders
}

/** The note under the tree: how many topics were evicted and payloads dropped. */
function renderTreeNote() {
  const parts = [];
  if (tree.evicted) {
    parts.push(tree.evicted + (tree.evicted === 1 ? ' topic' : ' topics') +
      ' evicted (least recently updated first; limit ' + limits.treeTopics + ' topics)');
  }
  if (tree.payloadsDropped) {
    parts.push(tree.payloadsDropped + (tree.payloadsDropped === 1 ? ' payload' : ' payloads') +
      ' not kept (limit ' + limits.treePayloadMiB + ' MiB)');
  }
  const text = parts.join(' · ');
  ui.treeEvicted.hidden = !text;
  if (ui.treeEvicted.textContent !== text) ui.treeEvicted.textContent = text;
}

/** Refresh rates once a second, so they decay to zero when a topic goes quiet. */
export function tickRates() {
  const now = Date.now();
  for (const node of tree.active) {
    tree.dirty.add(node);
    if (rateValue(node.rate, now) === 0) tree.active.delete(node);
  }
  if (tree.dirty.size || tree.selected) scheduleTreeRender();
}

/** `s` cut to what the DOM may hold of a topic (attributes, titles, option values). */
function forAttr(s) {
  return s.length > CONFIG.ATTR_MAX_CHARS ? s.slice(0, CONFIG.ATTR_MAX_CHARS) + '…' : s;
}

function ensureNodeElement(node) {
  if (node.el) return node.el;
  const parentList = node.parent === tree.root ? ui.treeRoot : ensureNodeElement(node.parent).childList;
  const twisty = h('button', { type: 'button', class: 'twisty', tabindex: '-1', 'aria-hidden': 'true' });
  const name = h('span', {
    class: 'tnode-name mono',
    text: node.name === '' ? '∅' : forAttr(node.name),
    title: node.path === '' ? '(empty level)' : forAttr(node.path),
  });
  const value = h('span', { class: 'tnode-value mono' });
  const count = h('span', { class: 'tnode-count' });
  const rate = h('span', { class: 'tnode-rate' });
  const row = h('div', { class: 'tnode-row', tabindex: '0' }, twisty, name, value, h('span', { class: 'tnode-meta' }, rate, count));
  const childList = h('ul', { class: 'tnode-children', role: 'group' });
  const li = h('li', { class: 'tnode', role: 'treeitem', 'data-testid': 'tree-node', 'data-topic': forAttr(node.path), 'aria-expanded': 'true' }, row, childList);
  li._node = node;
  node.el = li;
  Object.assign(li, { row, twisty, valueEl: value, countEl: count, rateEl: rate, childList });
  // Insert in sorted position among siblings. Binary search on a JS array:
  // indexing live DOM collections at random is not O(1).
  const sibs = node.parent.kidOrder || (node.parent.kidOrder = []);
  const lo = sortedIndex(sibs, node.name);
  parentList.insertBefore(li, sibs[lo] ? sibs[lo].el : null);
  sibs.splice(lo, 0, node);
  return li;
}

function renderNode(node, now) {
  const el = ensureNodeElement(node);
  const hasChildren = node.children.size > 0;
  el.classList.toggle('has-children', hasChildren);
  el.classList.toggle('is-topic', node.count > 0);
  el.classList.toggle('collapsed', hasChildren && !node.expanded);
  if (hasChildren) el.setAttribute('aria-expanded', node.expanded ? 'true' : 'false');
  else el.removeAttribute('aria-expanded');
  el.twisty.textContent = hasChildren ? (node.expanded ? '▾' : '▸') : '';
  el.valueEl.textContent = node.last ? previewText(node.last, 80) : '';
  el.valueEl.classList.toggle('is-binary', !!node.last && node.last.encoding === 'base64');
  if (hasChildren) {
    el.countEl.textContent = node.topics + (node.topics === 1 ? ' topic' : ' topics') + ' · ' + node.subCount;
    el.countEl.title = node.subCount + ' messages on this topic and below';
  } else {
    el.countEl.textContent = String(node.count);
    el.countEl.title = node.count + ' messages';
  }
  el.rateEl.textContent = node.rate ? formatRate(rateValue(node.rate, now)) : '';
}

/** True when every ancestor is expanded. */
function isShown(node) {
  for (let n = node.parent; n && n !== tree.root; n = n.parent) if (!n.expanded) return false;
  return true;
}

/**
 * Render the shown descendants of an expanded node: the first
 * TREE_NODES_PER_RENDER now, the rest over the next renders, so that opening
 * a node with thousands of children answers the click at once.
 */
function renderSubtree(node) {
  const stack = [node];
  while (stack.length) {
    for (const child of stack.pop().children.values()) {
      tree.dirty.add(child);
      if (child.expanded && child.children.size) stack.push(child);
    }
  }
  renderNow();
}

function renderNow() {
  clearTimeout(tree.timer);
  renderTree();
}

function toggleNode(node, expanded) {
  node.userToggled = true;
  node.expanded = expanded === undefined ? !node.expanded : expanded;
  renderNode(node, Date.now());
  if (node.expanded) renderSubtree(node);
}

function setAllExpanded(expanded) {
  for (const node of tree.byPath.values()) {
    if (!node.children.size) continue;
    node.expanded = expanded;
    node.userToggled = true;
  }
  // Collapsed rows keep stale state until they are shown again (renderSubtree).
  for (const node of tree.root.children.values()) tree.dirty.add(node);
  if (expanded) renderSubtree(tree.root);
  else renderNow();
}

function onTreeClick(ev) {
  const row = ev.target.closest('.tnode-row');
  if (!row) return;
  const node = row.parentElement._node;
  if (ev.target.closest('.twisty')) {
    toggleNode(node);
    return;
  }
  selectTopic(node.path, false);
}

function onTreeKey(ev) {
  const row = ev.target.closest('.tnode-row');
  if (!row) return;
  const node = row.parentElement._node;
  if (ev.key === 'Enter' || ev.key === ' ') {
    ev.preventDefault();
    selectTopic(node.path, false);
  } else if (ev.key === 'ArrowRight' && node.children.size) {
    toggleNode(node, true);
  } else if (ev.key === 'ArrowLeft' && node.children.size) {
    toggleNode(node, false);
  } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    const rows = Array.from(ui.tree.querySelectorAll('.tnode-row')).filter((r) => r.offsetParent !== null);
    const i = rows.indexOf(row) + (ev.key === 'ArrowDown' ? 1 : -1);
    if (rows[i]) rows[i].focus();
  }
}

/** Select a topic in the tree (expanding its ancestors) and show it in the detail pane. */
export function selectTopic(path, reveal) {
  const node = tree.byPath.get(path);
  if (!node) {
    if (tree.evicted) {
      notice('info', 'That topic was evicted from the tree (it holds the ' + limits.treeTopics +
        ' most recently updated topics; see Limits).', { key: 'evicted-topic', timeout: 6000 });
    }
    return;
  }
  const previous = tree.selected;
  if (previous && previous.el) {
    previous.el.row.classList.remove('selected');
    previous.el.row.removeAttribute('aria-selected');
  }
  tree.selected = node;
  // The old selection may have waited for eviction while it was selected.
  if (previous && previous !== node && !previous.gone) {
    if (previous.count === 0) prune(previous);
    else enforceTreeBounds();
  }
  const ancestors = [];
  for (let n = node.parent; n && n !== tree.root; n = n.parent) ancestors.unshift(n);
  for (const n of ancestors) if (!n.expanded) toggleNode(n, true);
  const el = ensureNodeElement(node);
  renderNode(node, Date.now());
  el.row.classList.add('selected');
  el.row.setAttribute('aria-selected', 'true');
  if (reveal) revealInTree(el.row);
  showDetail(node, Date.now());
}

/** Scroll the tree box (only it, never the page) so that `row` is visible. */
function revealInTree(row) {
  const box = ui.tree;
  const r = row.getBoundingClientRect();
  const b = box.getBoundingClientRect();
  if (r.top < b.top) box.scrollTop -= b.top - r.top + 4;
  else if (r.bottom > b.bottom) box.scrollTop += r.bottom - b.bottom + 4;
}

function addKnownTopic(topic) {
  if (topic.length > CONFIG.ATTR_MAX_CHARS) return;
  if (ui.knownTopics.childElementCount >= CONFIG.KNOWN_TOPICS_MAX) return;
  ui.knownTopics.append(h('option', { value: topic }));
}

/** Build the tree's root list and wire its clicks, keys and buttons. */
export function initTree() {
  ui.treeRoot = h('ul', { class: 'tree-root', role: 'tree', 'aria-label': 'Topic tree' });
  ui.tree.append(ui.treeRoot);
  ui.tree.addEventListener('click', onTreeClick);
  ui.tree.addEventListener('keydown', onTreeKey);
  ui.treeExpand.addEventListener('click', () => setAllExpanded(true));
  ui.treeCollapse.addEventListener('click', () => setAllExpanded(false));
}

/** After the limits changed: evict down to them now, and say so. */
export function applyTreeLimits() {
  enforceTreeBounds();
  scheduleTreeRender();
}
