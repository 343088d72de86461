//! The identity-provider dialects Iris understood in a request — the forms RFC 7644 does not
//! define or defines otherwise, which Iris accepts because Entra (and others) send them. The
//! provisioning log names them with each change, so an operator sees which dialect a tenant's
//! identity provider speaks and what Iris made of it.
//!
//! Parsing and PATCH application are synchronous and run on one thread, so the quirks met along
//! the way are noted on a per-thread collector that [`observe`] opens around the work, instead of
//! threading a collector through every function that may meet one.

use std::cell::RefCell;
use std::collections::BTreeSet;

/// A form a request used that the RFC does not (entra-compat §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quirk {
    /// `"op": "Replace"`: an operation name not in lower case.
    OpNameCase,
    /// `"True"`/`"False"` where a boolean belongs.
    StringBoolean,
    /// A path-less operation whose value has dotted, URN-qualified or value-path keys
    /// (`"name.givenName"`, `"urn:…:User:department"`).
    PathlessDottedKey,
    /// `add`/`replace` on a value path that matched nothing created the element (RFC 7644 says
    /// `noTarget`).
    ValuePathUpsert,
    /// `remove` of a multi-valued attribute (group members included) naming the values to
    /// remove in `value` instead of a filter.
    RemoveByValue,
    /// A simple value wrapped as `{"value": x}` or `[x]`.
    WrappedSimpleValue,
    /// A path into an extension Iris does not define (a custom mapping), ignored.
    IgnoredExtension,
    /// A `value` sent with a value-path `remove` (Entra sends the old value), ignored.
    IgnoredRemoveValue,
}

impl Quirk {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpNameCase => "op-name-case",
            Self::StringBoolean => "string-boolean",
            Self::PathlessDottedKey => "path-less-dotted-key",
            Self::ValuePathUpsert => "value-path-upsert",
            Self::RemoveByValue => "remove-by-value",
            Self::WrappedSimpleValue => "wrapped-simple-value",
            Self::IgnoredExtension => "ignored-extension",
            Self::IgnoredRemoveValue => "ignored-remove-value",
        }
    }
}

thread_local! {
    static SEEN: RefCell<Option<BTreeSet<Quirk>>> = const { RefCell::new(None) };
}

/// Notes that the work under way met `quirk` (nothing happens outside [`observe`]).
pub(crate) fn note(quirk: Quirk) {
    SEEN.with(|seen| {
        if let Some(set) = seen.borrow_mut().as_mut() {
            set.insert(quirk);
        }
    });
}

/// Runs `work` and returns what it returned with the quirks it met, in a fixed order.
pub fn observe<T>(work: impl FnOnce() -> T) -> (T, Vec<Quirk>) {
    let outer = SEEN.with(|seen| seen.replace(Some(BTreeSet::new())));
    let result = work();
    let met = SEEN.with(|seen| seen.replace(outer));
    (result, met.unwrap_or_default().into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks_are_collected_only_while_observed_and_nest() {
        note(Quirk::StringBoolean);
        let ((), outer) = observe(|| {
            note(Quirk::OpNameCase);
            let ((), inner) = observe(|| note(Quirk::RemoveByValue));
            assert_eq!(inner, [Quirk::RemoveByValue]);
            note(Quirk::OpNameCase);
        });
        assert_eq!(outer, [Quirk::OpNameCase]);
    }
}
