/*
 * Tunables of the dashboard: bounds on what the page keeps and how often it
 * renders, and the socket's back-off and keep-alive timings.
 *
 * The bounds a user can change in the page ("Limits" in the header, saved in
 * localStorage) are listed once, in LIMIT_DEFS; `limits` holds their current
 * values. Everything else here is fixed.
 *
 * Memory: with the default limits the page's JS heap stays under
 * HEAP_BOUND_MIB. What the limits allow at most: payload previews of 16 MiB
 * in UTF-8 (up to 32 MiB as JS strings, which may take two bytes per
 * character), 10,000 topics (about 1 KiB each with their nodes, rates and
 * DOM wrappers: 10 MiB), log entries (twice 500 of 2,000 characters: 4 MiB),
 * chart histories (HISTORY_BUDGET: 8 MB), the History panel's values
 * (SEEN_CHARS_MAX characters, up to 8 MB, in at most SEEN_ENTRIES_MAX
 * entries of about 100 bytes: 2 MB). tests/dashboard_limits.rs feeds
 * 200,000 distinct topics and twelve 5 MiB payloads and measures about
 * 15 MiB after a garbage collection (157 MiB with 99,000 topics and whole
 * payloads kept); it fails above HEAP_BOUND_MIB.
 */

export const CONFIG = {
  HEAP_BOUND_MIB: 64,         // stated bound of the JS heap with the default limits (see above)
  LOG_ROWS_PER_FRAME: 50,     // rows rendered per animation frame (more = janky under floods)
  LOG_PAYLOAD_CHARS: 2000,    // payload characters kept and shown in a log row
  LOG_FALLBACK_MS: 250,       // flush even when rAF is throttled (hidden tab)
  TREE_RENDER_MS: 250,        // tree / detail re-render throttle
  TREE_NODES_PER_RENDER: 1000, // rows rendered per render at most (the rest in the next ones)
  TREE_AUTO_EXPAND_NODES: 400,     // nodes created expanded while the tree is smaller
  TREE_AUTO_COLLAPSE_CHILDREN: 50, // a node with more children collapses (unless the user opened it)
  TREE_MAX_DEPTH: 32,         // deeper levels stay in one node (named by the rest of the topic)
  TREE_NODES_PER_TOPIC: 4,    // nodes (levels) kept per topic allowed, on average
  TREE_PATH_CHARS: 8e6,       // characters of all nodes' topic paths (hostile long topics)
  ATTR_MAX_CHARS: 1024,       // longest topic copied into DOM attributes and lists
  RATE_WINDOW_S: 10,          // sliding window for msgs/s
  HISTORY_MAX: 300,           // per-topic payloads kept for the chart
  HISTORY_PAYLOAD_MAX: 1024,  // only short payloads go into the history
  HISTORY_BUDGET: 8e6,        // across all topics: payload characters + HISTORY_ENTRY_COST per entry
  HISTORY_ENTRY_COST: 48,     // what one history entry costs besides its payload (estimate, bytes)
  NUMERIC_PROBE_MAX: 4096,    // longest payload probed for numbers
  CHART_MAX_POINTS: 2000,
  CHART_RENDER_MS: 250,
  CHART_LIST_RENDER_MS: 500,  // the chart's topic picker is rebuilt at most this often
  RECONNECT_MIN_MS: 500,
  RECONNECT_MAX_MS: 10000,
  STABLE_OPEN_MS: 5000,       // an open socket this old resets the back-off
  PING_INTERVAL_MS: 20000,
  PING_TIMEOUT_MS: 15000,
  DETAIL_MAX_CHARS: 200000,
  HEX_MAX_BYTES: 4096,
  KNOWN_TOPICS_MAX: 1000,     // <datalist> suggestions
  NOTICES_MAX: 6,
  JSON_TREE_MAX_NODES: 2000,  // nodes of the collapsible JSON view (the rest is summarised)
  PROPS_MAX_USER: 32,         // MQTT 5 user properties kept per message
  PROPS_MAX_CHARS: 256,       // characters kept of each property value
  SEEN_PER_TOPIC: 50,         // values per topic the page keeps for the History panel
  SEEN_PAYLOAD_CHARS: 4096,   // payload characters kept per History value
  SEEN_ENTRIES_MAX: 20000,    // History values across all topics
  SEEN_CHARS_MAX: 4e6,        // History payload characters across all topics
  HISTORY_FETCH_LIMIT: 50,    // values asked of GET /api/history
  HISTORY_PAGED_MAX: 1000,    // values the History panel keeps when paging back ("older")
  HISTORY_REFETCH_MS: 1000,   // a new message on the shown topic asks the server again at most this often
  DIFF_MAX_LINES: 400,        // lines of one History diff
  DIFF_VALUE_CHARS: 200,      // characters of a value inside a diff line
  SAVED_SUBS_MAX: 50,         // saved subscriptions (localStorage)
  TEMPLATES_MAX: 50,          // saved publish templates (localStorage)
  TEMPLATE_PAYLOAD_CHARS: 16384, // longest payload a template keeps
  CHART_SERIES_MAX: 6,        // series on the chart (one colour each: --series-0..5 in style.css)
  RETAINED_LIST_MAX: 500,     // retained messages listed at once
};

/**
 * The bounds a user can change in the page. `key` names the value in
 * `limits` and in localStorage, `id` its input (and data-testid); `min`/`max`
 * are what the form accepts.
 */
export const LIMIT_DEFS = [
  { key: 'treeTopics', id: 'limit-tree-topics', label: 'Topics in the tree', unit: '', def: 10000, min: 100, max: 1000000,
    help: 'Beyond this, the least recently updated topics are evicted.' },
  { key: 'payloadKiB', id: 'limit-payload-kib', label: 'Payload kept per message', unit: 'KiB', def: 64, min: 1, max: 65536,
    help: 'Longer payloads keep their first bytes; their full size is still shown.' },
  { key: 'treePayloadMiB', id: 'limit-tree-payload-mib', label: 'Payloads kept in the tree', unit: 'MiB', def: 16, min: 1, max: 4096,
    help: 'Beyond this, the least recently updated topics keep their counts but not their payload.' },
  { key: 'logRows', id: 'limit-log-rows', label: 'Rows in the message log', unit: '', def: 500, min: 50, max: 100000,
    help: 'Older rows leave the log; the tree still counts their messages.' },
  { key: 'chartTopics', id: 'limit-chart-topics', label: 'Topics in the chart list', unit: '', def: 500, min: 10, max: 100000,
    help: 'The numeric topics seen most recently are listed.' },
];

/** Current values of the limits (defaults until the saved ones are loaded). */
export const limits = Object.fromEntries(LIMIT_DEFS.map((d) => [d.key, d.def]));
