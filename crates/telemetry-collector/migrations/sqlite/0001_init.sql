CREATE TABLE collector_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE model_registrations (
    dedup_key TEXT PRIMARY KEY,          -- the event's uuid
    registration_hash TEXT NOT NULL,     -- hex HMAC-SHA256(server key, model_name || 0x00 || client_id)
    model_name TEXT NOT NULL,
    model_source TEXT NOT NULL,
    model_version TEXT,
    embedding_dimension INTEGER NOT NULL,
    modalities TEXT NOT NULL,            -- JSON array, e.g. ["text"]
    distance_metric TEXT,
    normalization TEXT,
    load_success INTEGER NOT NULL,
    inference_success INTEGER NOT NULL,
    device_type TEXT NOT NULL,
    local_path_hash TEXT,
    event_time TEXT NOT NULL,            -- the event's timestamp, RFC 3339
    received_at INTEGER NOT NULL         -- unix seconds
) WITHOUT ROWID;

CREATE INDEX model_registrations_received ON model_registrations (received_at);
CREATE INDEX model_registrations_name ON model_registrations (model_name, registration_hash);
