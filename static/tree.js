/*
 * The topic tree: every topic seen, with its last value, message count and
 * rate. Rendering is throttled and only rows under expanded nodes get DOM,
 * so a flood of topics stays cheap. Selecting a topic shows it in the
 * detail pane.
 */

import { CONFIG } from './config.js';
import { ui, h } from './dom.js';
import { makeRate, rateHit, rateValue, formatRate, previewText, compareNames } from './format.js';
import { renderDetail, showDetail } from './detail.js';

function makeNode(name, path, parent, depth) {
  return {
    name, path, parent, depth,
    children: new Map(),
    kidOrder: [],      // children that have DOM elements, sorted by name
    last: null,        // last message on exactly this topic
    count: 0,          // messages on exactly this topic
    subCount: 0,       // messages on this topic and below
    topics: 0,         // topics with messages at or below this node
    rate: null,
    // Kept by the chart panel (chart-panel.js):
    history: [],       // [{ t, p }] short utf8 payloads, for the chart
    numeric: false,    // payload seen to carry numbers
    numProbeAt: 0,
    expanded: true,
    userToggled: false,
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
};
tree.root.expanded = true;

/** Count a message in the tree; returns its topic's node. */
export function treeAdd(m) {
  const segs = m.topic.split('/');
  let node = tree.root;
  node.subCount++;
  let path = '';
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    path = i === 0 ? seg : path + '/' + seg;
    let child = node.children.get(seg);
    if (!child) {
      child = makeNode(seg, path, node, i);
      // Small trees open fully; big ones start collapsed (only shown rows get DOM).
      child.expanded = tree.byPath.size < CONFIG.TREE_AUTO_EXPAND_NODES;
      node.children.set(seg, child);
      tree.byPath.set(path, child);
      if (node !== tree.root && node.expanded && !node.userToggled &&
          node.children.size > CONFIG.TREE_AUTO_COLLAPSE_CHILDREN) {
        node.expanded = false;
      }
      tree.dirty.add(node); // parent now has children (twisty)
    }
    child.subCount++;
    tree.dirty.add(child);
    node = child;
  }
  if (node.count === 0) {
    for (let n = node; n; n = n.parent) n.topics++;
    tree.topicCount++;
    addKnownTopic(m.topic);
  }
  node.count++;
  node.last = m;
  if (!node.rate) node.rate = makeRate();
  rateHit(node.rate, m.t);
  tree.active.add(node);
  scheduleTreeRender();
  return node;
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
    if (node === tree.root || !isShown(node)) continue;
    renderNode(node, now);
    if (--budget <= 0) break;
  }
  ui.treeCount.textContent = String(tree.topicCount);
  ui.tree.classList.toggle('is-empty', tree.topicCount === 0);
  if (tree.selected) renderDetail(tree.selected, now);
  if (tree.dirty.size) scheduleTreeRender(); // a burst of new topics: spread over renders
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

function ensureNodeElement(node) {
  if (node.el) return node.el;
  const parentList = node.parent === tree.root ? ui.treeRoot : ensureNodeElement(node.parent).childList;
  const twisty = h('button', { type: 'button', class: 'twisty', tabindex: '-1', 'aria-hidden': 'true' });
  const name = h('span', { class: 'tnode-name mono', text: node.name === '' ? '∅' : node.name, title: node.path === '' ? '(empty level)' : node.path });
  const value = h('span', { class: 'tnode-value mono' });
  const count = h('span', { class: 'tnode-count' });
  const rate = h('span', { class: 'tnode-rate' });
  const row = h('div', { class: 'tnode-row', tabindex: '0' }, twisty, name, value, h('span', { class: 'tnode-meta' }, rate, count));
  const childList = h('ul', { class: 'tnode-children', role: 'group' });
  const li = h('li', { class: 'tnode', role: 'treeitem', 'data-testid': 'tree-node', 'data-topic': node.path, 'aria-expanded': 'true' }, row, childList);
  li._node = node;
  node.el = li;
  Object.assign(li, { row, twisty, valueEl: value, countEl: count, rateEl: rate, childList });
  // Insert in sorted position among siblings. Binary search on a JS array:
  // indexing live DOM collections at random is not O(1).
  const sibs = node.parent.kidOrder;
  let lo = 0;
  let hi = sibs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareNames(sibs[mid].name, node.name) > 0) hi = mid;
    else lo = mid + 1;
  }
  parentList.insertBefore(li, sibs[lo] ? sibs[lo].el : null);
  sibs.splice(lo, 0, node);
  return li;
}

function renderNode(node, now) {
  const el = ensureNodeElement(node);
  const hasChildren = node.children.size > 0;
  el.classList.toggle('has-children', hasChildren);
  el.classList.toggle('collapsed', hasChildren && !node.expanded);
  if (hasChildren) el.setAttribute('aria-expanded', node.expanded ? 'true' : 'false');
  else el.removeAttribute('aria-expanded');
  el.twisty.textContent = hasChildren ? (node.expanded ? '▾' : '▸') : '';
  if (node.last) {
    el.valueEl.textContent = previewText(node.last, 80);
    el.valueEl.classList.toggle('is-binary', node.last.encoding === 'base64');
  }
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

/** Render the shown descendants of an expanded node. */
function renderChildren(node, now) {
  for (const child of node.children.values()) {
    renderNode(child, now);
    if (child.expanded && child.children.size) renderChildren(child, now);
  }
}

function toggleNode(node, expanded) {
  node.userToggled = true;
  node.expanded = expanded === undefined ? !node.expanded : expanded;
  const now = Date.now();
  renderNode(node, now);
  if (node.expanded) renderChildren(node, now);
}

function setAllExpanded(expanded) {
  const now = Date.now();
  for (const node of tree.byPath.values()) {
    if (!node.children.size) continue;
    node.expanded = expanded;
    node.userToggled = true;
    if (node.el) renderNode(node, now);
  }
  if (expanded) renderChildren(tree.root, now);
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
  if (!node) return;
  if (tree.selected && tree.selected.el) {
    tree.selected.el.row.classList.remove('selected');
    tree.selected.el.row.removeAttribute('aria-selected');
  }
  tree.selected = node;
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
