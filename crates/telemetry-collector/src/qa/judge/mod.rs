//! Scoring a trace on the rubric.
