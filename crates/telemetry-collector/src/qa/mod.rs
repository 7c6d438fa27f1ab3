//! The QA pipeline: after a trace completes, a job in the collector's own
//! storage runs its tests again in a clean environment ([`runner`]) and
//! scores the session on the reference design's rubric ([`judge`]); the
//! results go into the trace's `qa` field.

pub mod judge;
pub mod runner;
