-- Developer traces: a trace while it is uploaded (its chunks, events and
-- idempotency keys), the complete document once it is, its artifacts, and
-- the append-only log of completed traces' leaf hashes.
CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY,
    participant_id TEXT,                 -- NULL once deleted
    state TEXT NOT NULL,                 -- open | complete | deleted
    header TEXT,                         -- the CreateTrace body as kept, JSON; NULL once deleted
    document TEXT,                       -- the complete trace, JSON; NULL until complete, and once deleted
    event_hash_chain TEXT,               -- the chain's head, once complete
    num_events BIGINT,
    leaf_index BIGINT,                  -- its leaf in trace_log, once complete
    created_at BIGINT NOT NULL,         -- Unix seconds
    completed_at BIGINT
);
CREATE INDEX traces_participant ON traces (participant_id);
CREATE INDEX traces_created ON traces (created_at);

CREATE TABLE trace_chunks (
    trace_id TEXT NOT NULL,
    chunk_seq BIGINT NOT NULL,
    chunk_sha256 TEXT NOT NULL,          -- of its id, seq and events' hashes
    received_at BIGINT NOT NULL,
    PRIMARY KEY (trace_id, chunk_seq)
);

-- Events of a trace being uploaded; moved into traces.document on
-- completion.
CREATE TABLE trace_events (
    trace_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,                  -- the event's chain hash, as sent
    body TEXT NOT NULL,                  -- the event as kept, JSON
    PRIMARY KEY (trace_id, seq)
);

CREATE TABLE trace_idempotency (
    trace_id TEXT NOT NULL,
    key TEXT NOT NULL,                   -- the Idempotency-Key header
    request_sha256 TEXT NOT NULL,        -- of the chunk's id, seq and events' hashes
    answer TEXT NOT NULL,                -- the answer given, replayed byte for byte
    created_at BIGINT NOT NULL,
    PRIMARY KEY (trace_id, key)
);
CREATE INDEX trace_idempotency_created ON trace_idempotency (created_at);

CREATE TABLE trace_artifacts (
    trace_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,                -- the blob is artifacts/sha256/<sha256>
    size BIGINT NOT NULL,
    PRIMARY KEY (trace_id, sha256)
);
CREATE INDEX trace_artifacts_sha256 ON trace_artifacts (sha256);

-- RFC 9162 leaves, in order; never deleted (a deleted trace keeps its
-- leaf, so that proofs for the others still verify).
CREATE TABLE trace_log (
    leaf_index BIGINT PRIMARY KEY,
    leaf_hash TEXT NOT NULL,
    trace_id TEXT NOT NULL UNIQUE
);
