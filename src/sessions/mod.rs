//! Session logs: what clients did, with offline-safe retries, flags and reviews.

pub mod dto;
