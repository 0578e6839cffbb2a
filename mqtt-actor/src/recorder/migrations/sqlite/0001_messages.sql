-- One row per topic, so that messages carry a small integer and a filter
-- with wildcards resolves to topic ids once.
CREATE TABLE topics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);

-- AUTOINCREMENT: ids only grow, so (ts_ms, id) is a stable paging cursor.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id INTEGER NOT NULL REFERENCES topics (id),
    ts_ms INTEGER NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain BOOLEAN NOT NULL
);

-- History of some topics, newest first, in a time range.
CREATE INDEX messages_topic_time ON messages (topic_id, ts_ms, id);
-- Retention: the oldest messages first.
CREATE INDEX messages_time ON messages (ts_ms, id);
