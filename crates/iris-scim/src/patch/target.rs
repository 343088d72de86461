//! Resolving what an operation points at: a `path` (`emails[type eq "work"].value`,
//! `urn:…:enterprise:2.0:User:manager`) or a key of a path-less value (`name.givenName`,
//! `urn:…:enterprise:2.0:User:employeeNumber`) becomes a schema attribute, an optional element
//! selector and an optional sub-attribute. Mutability is enforced here, before anything changes.

use crate::error::{ScimError, ScimResult};
use crate::filter::{Filter, FilterLimits, parse_path};
use crate::schema::{AttrType, Attribute, Mutability, ResourceKind, ResourceType, Schema};

use super::selector::Selector;

/// One attribute (or sub-attribute, or selected elements) of the document.
#[derive(Debug)]
pub(super) struct Target {
    pub schema: &'static Schema,
    pub attr: &'static Attribute,
    /// Which elements of a multi-valued attribute (or the value of a single-valued complex one) an
    /// operation applies to. `None` addresses the attribute as a whole.
    pub selector: Option<Selector>,
    pub sub: Option<&'static Attribute>,
}

/// Where an operation lands.
#[derive(Debug)]
pub(super) enum Destination {
    Attribute(Target),
    /// A Group's `members`, which live in the membership table, not in the document.
    Members {
        filter: Option<Filter>,
        sub: bool,
    },
    /// A whole extension object (`urn:…:enterprise:2.0:User`).
    Extension(&'static Schema),
    /// Nothing to do: an extension schema Iris does not know, a read-only attribute echoed in a
    /// path-less value, or the write-only `password`.
    Ignored,
}

/// How the operation named its target: an explicit `path` is held to the mutability rules; keys
/// of a path-less value are read tolerantly, like a POST body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    Path,
    Key,
}

/// Resolves an operation's `path`.
pub(super) fn resolve_path(rt: &'static ResourceType, path: &str) -> ScimResult<Destination> {
    if let Some(ext) = rt.extension(path) {
        return Ok(Destination::Extension(ext));
    }
    let parsed = parse_path(path, &FilterLimits::default()).map_err(|e| e.into_invalid_path())?;
    let schema = match parsed.attr.urn.as_deref() {
        None => None,
        Some(urn) => match rt.schema_by_urn(urn) {
            Some(schema) => Some(schema),
            // A custom extension Entra maps but Iris does not define (entra-compat §3.5.3, Q15).
            None => return Ok(Destination::Ignored),
        },
    };
    let Some((schema, attr)) = locate(rt, schema, &parsed.attr.attr) else {
        return Err(ScimError::invalid_path(format!(
            "unknown attribute in path '{path}'"
        )));
    };
    let sub = match (parsed.attr.sub.as_deref(), parsed.sub.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "path '{path}' names two sub-attributes"
            )));
        }
        (a, b) => a.or(b),
    };
    build(rt, schema, attr, sub, parsed.filter, Naming::Path, path)
}

/// Resolves one key of a path-less `add`/`replace` value. `within` is the extension whose object
/// the key sits in, if any.
pub(super) fn resolve_key(
    rt: &'static ResourceType,
    within: Option<&'static Schema>,
    key: &str,
) -> ScimResult<Destination> {
    let (schema, rest) = match within {
        Some(ext) => (Some(ext), key),
        None => {
            if let Some(ext) = rt.extension(key) {
                return Ok(Destination::Extension(ext));
            }
            match rt.split_urn(key) {
                Some((schema, rest)) if rest.len() < key.len() => (Some(schema), rest),
                // A bare name: `locate` looks in the core schema, then the extensions.
                Some((_, rest)) => (None, rest),
                // An extension Iris does not define (entra-compat Q15).
                None => return Ok(Destination::Ignored),
            }
        }
    };
    let (name, sub) = match rest.split('.').collect::<Vec<_>>().as_slice() {
        [name] => (*name, None),
        [name, sub] => (*name, Some(*sub)),
        _ => {
            return Err(ScimError::invalid_path(format!(
                "'{key}' is not a valid attribute path"
            )));
        }
    };
    // Unknown attributes in a value are ignored, as in POST and PUT bodies (tolerant reader).
    let Some((schema, attr)) = locate(rt, schema, name) else {
        return Ok(Destination::Ignored);
    };
    build(rt, schema, attr, sub, None, Naming::Key, key)
}

/// Finds attribute `name` in `schema`, or, for a name without a URN, in the core schema and then
/// the extensions: Entra's legacy mappings write `manager` for the enterprise `manager`.
fn locate(
    rt: &'static ResourceType,
    schema: Option<&'static Schema>,
    name: &str,
) -> Option<(&'static Schema, &'static Attribute)> {
    if let Some(schema) = schema {
        return schema.attribute(name).map(|attr| (schema, attr));
    }
    std::iter::once(rt.schema)
        .chain(rt.extensions.iter().map(|(schema, _)| *schema))
        .find_map(|schema| schema.attribute(name).map(|attr| (schema, attr)))
}

fn build(
    rt: &'static ResourceType,
    schema: &'static Schema,
    attr: &'static Attribute,
    sub: Option<&str>,
    filter: Option<Filter>,
    naming: Naming,
    path: &str,
) -> ScimResult<Destination> {
    if rt.kind == ResourceKind::Group && attr.name == "members" {
        return Ok(Destination::Members {
            filter,
            sub: sub.is_some(),
        });
    }
    if !writable(attr, naming, path)? {
        return Ok(Destination::Ignored);
    }
    if (sub.is_some() || filter.is_some()) && attr.ty != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "'{}' has no sub-attributes or values to select in '{path}'",
            attr.name
        )));
    }
    let sub = match sub {
        None => None,
        Some(name) => match attr.sub_attribute(name) {
            Some(sub) if writable(sub, naming, path)? => Some(sub),
            Some(_) => return Ok(Destination::Ignored),
            None if naming == Naming::Key => return Ok(Destination::Ignored),
            None => {
                return Err(ScimError::invalid_path(format!(
                    "'{}' has no sub-attribute '{name}' (in '{path}')",
                    attr.name
                )));
            }
        },
    };
    let selector = match filter {
        Some(filter) => Some(Selector::from_filter(rt, schema, attr, &filter)?),
        // `emails.value`: the sub-attribute of every element.
        None if attr.multi_valued && sub.is_some() => Some(Selector::all()),
        None => None,
    };
    Ok(Destination::Attribute(Target {
        schema,
        attr,
        selector,
        sub,
    }))
}

/// Whether an operation may write `attr`. Read-only attributes named by a path are an error (RFC
/// 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability readOnly"); echoed in a
/// path-less value (Entra and validators send back `id`, `meta`, `groups`) they are skipped. The
/// write-only `password` is accepted and discarded: Iris does not authenticate users, and a stored
/// password would only be a liability.
fn writable(attr: &Attribute, naming: Naming, path: &str) -> ScimResult<bool> {
    match attr.mutability {
        Mutability::ReadWrite | Mutability::Immutable => Ok(true),
        Mutability::WriteOnly => Ok(false),
        Mutability::ReadOnly if naming == Naming::Key => Ok(false),
        Mutability::ReadOnly => Err(ScimError::mutability(format!(
            "'{}' is read-only and cannot be modified (path '{path}')",
            attr.name
        ))),
    }
}
