/*
 * Tunables of the dashboard: bounds on what the page keeps and how often it
 * renders, and the socket's back-off and keep-alive timings.
 */

export const CONFIG = {
  LOG_MAX_ROWS: 500,          // rows kept in the log
  LOG_ROWS_PER_FRAME: 50,     // rows rendered per animation frame (more = janky under floods)
  LOG_PAYLOAD_CHARS: 2000,    // payload characters shown in a log row
  LOG_FALLBACK_MS: 250,       // flush even when rAF is throttled (hidden tab)
  TREE_RENDER_MS: 250,        // tree / detail re-render throttle
  TREE_NODES_PER_RENDER: 2000,
  TREE_AUTO_EXPAND_NODES: 400,     // nodes created expanded while the tree is smaller
  TREE_AUTO_COLLAPSE_CHILDREN: 50, // a node with more children collapses (unless the user opened it)
  RATE_WINDOW_S: 10,          // sliding window for msgs/s
  HISTORY_MAX: 300,           // per-topic payloads kept for the chart
  HISTORY_PAYLOAD_MAX: 1024,  // only short payloads go into the history
  HISTORY_BUDGET_CHARS: 8e6,  // across all topics
  NUMERIC_PROBE_MAX: 4096,    // longest payload probed for numbers
  CHART_MAX_POINTS: 2000,
  CHART_RENDER_MS: 250,
  RECONNECT_MIN_MS: 500,
  RECONNECT_MAX_MS: 10000,
  STABLE_OPEN_MS: 5000,       // an open socket this old resets the back-off
  PING_INTERVAL_MS: 20000,
  PING_TIMEOUT_MS: 15000,
  DETAIL_MAX_CHARS: 200000,
  HEX_MAX_BYTES: 4096,
  KNOWN_TOPICS_MAX: 1000,     // <datalist> suggestions
  NOTICES_MAX: 6,
};
