//! Progress: adherence, streaks, pain, measurements and monitoring windows.

pub mod compute;
