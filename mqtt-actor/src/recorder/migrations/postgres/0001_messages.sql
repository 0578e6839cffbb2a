-- One row per topic, so that messages carry a small integer and a filter
-- with wildcards resolves to topic ids once. COLLATE "C": names compare
-- byte by byte, so a filter's literal prefix is an index range.
CREATE TABLE topics (
    id BIGSERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE
);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    topic_id BIGINT NOT NULL REFERENCES topics (id),
    ts_ms BIGINT NOT NULL,
    payload BYTEA NOT NULL,
    qos SMALLINT NOT NULL,
    retain BOOLEAN NOT NULL
);

-- History of some topics, newest first, in a time range.
CREATE INDEX messages_topic_time ON messages (topic_id, ts_ms, id);
-- Retention: the oldest messages first.
CREATE INDEX messages_time ON messages (ts_ms, id);
