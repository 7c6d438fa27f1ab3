-- The collector's first schema: its settings, model registrations (the
-- registry contract of reference 004) and every other event.
CREATE TABLE collector_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Rows are appended in rowid order and found by their unique dedup_key:
-- rows this wide are cheaper in a rowid table than keyed WITHOUT ROWID.
CREATE TABLE model_registrations (
    dedup_key TEXT NOT NULL UNIQUE,      -- the event's uuid
    registration_hash TEXT NOT NULL,     -- keyed hash of model_name and client_id
    model_name TEXT NOT NULL,
    model_source TEXT NOT NULL,
    model_version TEXT,
    embedding_dimension INTEGER NOT NULL,
    modalities TEXT NOT NULL,            -- JSON array: ["text"], ["text","image"]
    distance_metric TEXT,
    normalization TEXT,
    load_success INTEGER NOT NULL,
    inference_success INTEGER NOT NULL,
    device_type TEXT NOT NULL,
    local_path_hash TEXT,
    event_time TEXT NOT NULL,            -- the event's timestamp, RFC 3339 UTC
    received_at INTEGER NOT NULL         -- Unix seconds
);
CREATE INDEX model_registrations_received ON model_registrations (received_at);

CREATE TABLE events (
    dedup_key TEXT NOT NULL UNIQUE,      -- uuid; PostHog batches: uuid@timestamp
    source TEXT NOT NULL,                -- registry | posthog
    event_type TEXT NOT NULL,
    client_hash TEXT,                    -- keyed hash of the client id
    event_time TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL                   -- JSON, without the client id
);
CREATE INDEX events_received ON events (received_at);
