//! The API, tested through HTTP in-process. One binary; one module per feature.

mod helpers;

mod auth;
mod calendar;
mod conventions;
mod demo;
mod faults;
mod fhir;
mod gates;
mod handouts;
mod homework;
mod integrations;
mod library;
mod matrix;
mod monitoring;
mod ops;
mod outcomes;
mod people;
mod progress;
mod security;
mod sessions;
mod stewardship;
mod surface;
