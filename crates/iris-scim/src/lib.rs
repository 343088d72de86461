//! The SCIM 2.0 protocol core of Iris (RFC 7643, RFC 7644): schemas, resources, errors, filters,
//! attribute paths, PATCH and projection. Pure functions over JSON; no IO.

pub mod error;
pub mod filter;
pub mod limits;
pub mod patch;
pub mod projection;
pub mod provisioning_log;
pub mod quirks;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimResult, ScimType};
