//! Helpers shared by the integration tests: the structural CRD comparator and the parser for
//! the accepted differences in `SCHEMA-DIFFERENCES.md`.

pub(crate) mod differences_md;
pub(crate) mod schema_diff;
