-- The QA pipeline's jobs: one per completed trace, enqueued in the
-- transaction that completes it, claimed by one worker at a time under a
-- lease, retried with backoff, and holding the results once done.
CREATE TABLE qa_jobs (
    trace_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,                 -- queued | running | done | failed
    attempts INTEGER NOT NULL,           -- attempts started
    max_attempts INTEGER NOT NULL,
    run_after INTEGER NOT NULL,          -- Unix ms: not claimed before (backoff)
    lease_until INTEGER,                 -- Unix ms, while running: claimed again after it
    worker TEXT,                         -- the worker holding the lease
    request TEXT NOT NULL,               -- the CompleteTrace body, JSON
    reason TEXT,                         -- why the last attempt failed
    result TEXT,                         -- the Qa (validation, judge), JSON, once done
    verified INTEGER,                    -- 1 or 0 once validated (list filter)
    overall REAL,                        -- the rubric's overall score once judged
    enqueued_at INTEGER NOT NULL,        -- Unix ms
    updated_at INTEGER NOT NULL          -- Unix ms
) WITHOUT ROWID;
CREATE INDEX qa_jobs_claim ON qa_jobs (state, run_after);
