//! API tests through the real router on a fresh database per test.
//!
//! The backend is SQLite unless `VPP_TEST_DATABASE_URL` names a PostgreSQL
//! database, in which case every test gets its own schema there.

#![allow(clippy::unwrap_used)] // panicking on a surprising response is what a test should do

mod helpers;

mod abuse;
mod ai_models;
mod device_links;
mod devices;
mod dispatch;
mod errors;
mod etl;
mod ingestion;
mod markets;
mod ops;
mod owners;
mod parks;
mod redispatch;
mod resources;
mod schedules;
mod security;
mod series;
mod strategies;
mod techdata;
mod templates;
mod vpps;
