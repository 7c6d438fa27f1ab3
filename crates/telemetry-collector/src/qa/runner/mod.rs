//! Running a trace's tests again in a clean environment.
