-- The QA pipeline's jobs: one per completed trace, enqueued in the
-- transaction that completes it, claimed with FOR UPDATE SKIP LOCKED under
-- a lease, retried with backoff, and holding the results once done.
CREATE TABLE qa_jobs (
    trace_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,                 -- queued | running | done | failed
    attempts INTEGER NOT NULL,           -- attempts started
    max_attempts INTEGER NOT NULL,
    run_after BIGINT NOT NULL,           -- Unix ms: not claimed before (backoff)
    lease_until BIGINT,                  -- Unix ms, while running: claimed again after it
    worker TEXT,                         -- the worker holding the lease
    request TEXT NOT NULL,               -- the CompleteTrace body, JSON
    reason TEXT,                         -- why the last attempt failed
    result TEXT,                         -- the Qa (validation, judge), JSON, once done
    verified BOOLEAN,                    -- once validated (list filter)
    overall DOUBLE PRECISION,            -- the rubric's overall score once judged
    enqueued_at BIGINT NOT NULL,         -- Unix ms
    updated_at BIGINT NOT NULL           -- Unix ms
);
CREATE INDEX qa_jobs_claim ON qa_jobs (state, run_after);
