//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).
//!
//! The pipeline is: [`parse_filter`] / [`parse_path`] turn client text into a raw AST whose names
//! are exactly as the client wrote them; [`resolve`] checks a filter against a resource type's
//! schemas, canonicalises names and types the literals; [`matches`] evaluates a resolved filter
//! against a resource in memory. Storage back-ends translate [`Resolved`] into their own query
//! language and must follow the semantics documented in [`eval`].

pub mod ast;
pub mod eval;
pub mod parser;
pub mod resolve;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
pub use eval::matches;
pub use parser::{FilterError, FilterLimits, parse_filter, parse_path};
pub use resolve::{Resolved, ResolvedAttr, resolve, schemas_attribute};
