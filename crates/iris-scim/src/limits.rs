//! How much one request may ask of Iris (issues 17 and 18). Each limit is a named constant, checked
//! where the input is consumed — the PATCH engine for operations and their results, resource
//! validation for POST and PUT bodies — and answered with its own SCIM error naming it.
//! README.md ("Limits") documents them. `ServiceProviderConfig` cannot carry them: RFC 7643 §5
//! has no attribute for them (`patch` holds only `supported`, `bulk` describes `/Bulk`), and
//! strict clients refuse any other attribute, an extension schema's included (scim2-models, the
//! library of the RFC compliance checker in CI, fails discovery on one).
//!
//! Status codes: a *request* that is too big to process (too many operations, too many members in
//! one operation) is `413 Payload Too Large`, as RFC 7644 §3.7.4 answers a bulk request over
//! `maxOperations`; splitting the request fixes it. A *resource* that would break a limit (too many
//! values in one attribute) is `400 invalidValue`: no way of sending it can store it.
//!
//! The values are generous for real directories and small enough that the worst case stays cheap:
//! PATCH costs at most operations × the size of the attributes they touch, and every write fits in
//! single SQL statements on both databases.

use crate::error::ScimError;

/// Operations in one PATCH request. Entra sends a handful per user update and puts many members in
/// one operation's `value` (entra-compat.md §3.5, §4); validators send a few dozen. A thousand
/// leaves room for clients that send one operation per member (`members[value eq "…"]`).
pub const MAX_PATCH_OPERATIONS: usize = 1_000;

/// Values of one multi-valued attribute of a stored resource (`emails`, `phoneNumbers`,
/// `addresses`, `roles`, `entitlements`, …). Entra sends a handful of e-mail addresses and phone
/// numbers. E-mail addresses and phone numbers are also indexed, six bind parameters a value in
/// one statement: 2 × 1,000 × 6 = 12,000 stays far below SQLite's 32,766. A group's `members` are
/// not counted: they live in their own table, and groups hold hundreds of thousands of them.
pub const MAX_VALUES_PER_ATTRIBUTE: usize = 1_000;

/// Members named by one PATCH operation on a group's `members` (its `value` array, or the
/// `value eq` terms of its filter). Entra's batches are far smaller (entra-compat.md §4 asks for
/// at least several hundred); a group of any size can still be filled, ten thousand per operation.
pub const MAX_MEMBERS_PER_OPERATION: usize = 10_000;

/// The names the limits are documented under (README.md) and named by in error details.
pub mod names {
    pub const PATCH_OPERATIONS: &str = "maxPatchOperations";
    pub const VALUES_PER_ATTRIBUTE: &str = "maxValuesPerAttribute";
    pub const MEMBERS_PER_OPERATION: &str = "maxMembersPerPatchOperation";
}

/// A PATCH request with more than [`MAX_PATCH_OPERATIONS`] operations.
pub(crate) fn too_many_operations(count: usize) -> ScimError {
    ScimError::payload_too_large(format!(
        "the request has {count} operations; Iris applies at most {MAX_PATCH_OPERATIONS} per PATCH \
         ({}): split it into several requests",
        names::PATCH_OPERATIONS
    ))
}

/// A multi-valued attribute that would hold more than [`MAX_VALUES_PER_ATTRIBUTE`] values.
pub(crate) fn too_many_values(attribute: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "'{attribute}' would hold more than {MAX_VALUES_PER_ATTRIBUTE} values, the most Iris keeps \
         in one multi-valued attribute ({})",
        names::VALUES_PER_ATTRIBUTE
    ))
}

/// A `members` operation naming more than [`MAX_MEMBERS_PER_OPERATION`] members.
pub(crate) fn too_many_members(count: usize) -> ScimError {
    ScimError::payload_too_large(format!(
        "the operation names {count} members; Iris accepts at most {MAX_MEMBERS_PER_OPERATION} per \
         operation ({}): split them over several operations or requests",
        names::MEMBERS_PER_OPERATION
    ))
}
