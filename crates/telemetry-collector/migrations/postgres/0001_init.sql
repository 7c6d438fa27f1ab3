-- The collector's first schema: its settings, model registrations (the
-- registry contract of reference 004) and every other event.
CREATE TABLE collector_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE model_registrations (
    dedup_key TEXT PRIMARY KEY,
    registration_hash TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_source TEXT NOT NULL,
    model_version TEXT,
    embedding_dimension INTEGER NOT NULL,
    modalities TEXT NOT NULL,
    distance_metric TEXT,
    normalization TEXT,
    load_success BOOLEAN NOT NULL,
    inference_success BOOLEAN NOT NULL,
    device_type TEXT NOT NULL,
    local_path_hash TEXT,
    event_time TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX model_registrations_received ON model_registrations (received_at);

CREATE TABLE events (
    dedup_key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    event_type TEXT NOT NULL,
    client_hash TEXT,
    event_time TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX events_received ON events (received_at);
