//! `convlog ship` against a real PostgreSQL.
//!
//! The server comes from `CONVLOG_TEST_PG_URL` (`.ci/postgres.sh` starts a
//! throwaway cluster and sets it). Without it every test here skips with a
//! printed reason, unless `CONVLOG_REQUIRE_ALL=1`, when a skip fails. Each
//! test works in its own database; the restart test starts its own cluster
//! from `CONVLOG_TEST_PG_BIN` so restarting it disturbs nobody else.

#![cfg(feature = "postgres")]

mod basics;
mod copies;
mod edges;
mod faults;
mod follow;
pub(crate) mod harness;
mod memory;
#[path = "../../shared/pg.rs"]
mod pg;
mod resume;
mod secrets;
mod tls;
mod values;
