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
    num_events INTEGER,
    leaf_index INTEGER,                  -- its leaf in trace_log, once complete
    created_at INTEGER NOT NULL,         -- Unix seconds
    completed_at INTEGER
) WITHOUT ROWID;
CREATE INDEX traces_participant ON traces (participant_id);
CREATE INDEX traces_created ON traces (created_at);

CREATE TABLE trace_chunks (
    trace_id TEXT NOT NULL,
    chunk_seq INTEGER NOT NULL,
    chunk_sha256 TEXT NOT NULL,          -- of its id, seq and events' hashes
    received_at INTEGER NOT NULL,
    PRIMARY KEY (trace_id, chunk_seq)
) WITHOUT ROWID;

-- Events of a trace being uploaded; moved into traces.document on
-- completion.
CREATE TABLE trace_events (
    trace_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,                  -- the event's chain hash, as sent
    body TEXT NOT NULL,                  -- the event as kept, JSON
    PRIMARY KEY (trace_id, seq)
) WITHOUT ROWID;

CREATE TABLE trace_idempotency (
    trace_id TEXT NOT NULL,
    key TEXT NOT NULL,                   -- the Idempotency-Key header
    request_sha256 TEXT NOT NULL,        -- of the chunk's id, seq and events' hashes
    answer TEXT NOT NULL,                -- the answer given, replayed byte for byte
    created_at INTEGER NOT NULL,
    PRIMARY KEY (trace_id, key)
) WITHOUT ROWID;
CREATE INDEX trace_idempotency_created ON trace_idempotency (created_at);

CREATE TABLE trace_artifacts (
    trace_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,                -- the blob is artifacts/sha256/<sha256>
    size INTEGER NOT NULL,
    PRIMARY KEY (trace_id, sha256)
) WITHOUT ROWID;
CREATE INDEX trace_artifacts_sha256 ON trace_artifacts (sha256);

-- RFC 9162 leaves, in order; never deleted (a deleted trace keeps its
-- leaf, so that proofs for the others still verify).
CREATE TABLE trace_log (
    leaf_index INTEGER PRIMARY KEY,
    leaf_hash TEXT NOT NULL,
    trace_id TEXT NOT NULL UNIQUE
);
