//! Homework: routines given to clients with a schedule in their timezone, and the agenda.

pub mod schedule;
