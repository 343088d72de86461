//! Provisioning events: one per change a request made to one resource, or per request refused,
//! written in the same transaction as the change (so the log never claims a change that was rolled
//! back, and never misses one that landed).

use iris_scim::resource::Document;
use iris_scim::schema::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::context::{Client, RequestContext};
use crate::clock;

/// What a request did to one resource. Refused requests record what they attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Create,
    Update,
    /// A user's `active` went to false.
    Disable,
    /// A user's `active` went back to true.
    Enable,
    Delete,
    /// A group's `displayName` changed (with any other attribute changes of the same request).
    Rename,
    MembersAdded,
    MembersRemoved,
    /// A read (only recorded when refused).
    Query,
}

impl Operation {
    pub const ALL: [Self; 9] = [
        Self::Create,
        Self::Update,
        Self::Disable,
        Self::Enable,
        Self::Delete,
        Self::Rename,
        Self::MembersAdded,
        Self::MembersRemoved,
        Self::Query,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Delete => "delete",
            Self::Rename => "rename",
            Self::MembersAdded => "members-added",
            Self::MembersRemoved => "members-removed",
            Self::Query => "query",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(raw.trim()))
    }

    /// The action Entra's provisioning log would show for it.
    pub fn entra_action(self) -> iris_scim::provisioning_log::Action {
        use iris_scim::provisioning_log::Action;
        match self {
            Self::Create => Action::Create,
            Self::Update | Self::Rename | Self::MembersAdded | Self::MembersRemoved => {
                Action::Update
            }
            Self::Disable => Action::Disable,
            Self::Enable => Action::Enable,
            Self::Delete => Action::Delete,
            Self::Query => Action::Other,
        }
    }

    /// The operation a refused request attempted, from its method.
    pub fn attempted_by(method: &str) -> Self {
        match method {
            "POST" => Self::Create,
            "PUT" | "PATCH" => Self::Update,
            "DELETE" => Self::Delete,
            _ => Self::Query,
        }
    }
}

/// One attribute's value before and after (`None`: absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub attribute: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// The members a request added to or removed from a group (the rows that actually changed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersDelta {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// One line of the provisioning log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningEvent {
    /// Time-ordered (UUIDv7), so the id orders events as their times do.
    pub id: String,
    pub at: String,
    pub request_id: String,
    pub client: Client,
    pub method: String,
    pub operation: Operation,
    #[serde(with = "kind_name")]
    pub resource_type: ResourceKind,
    /// Empty for a refused request that named no resource (a refused POST).
    pub resource_id: String,
    /// `userName` of a user, `displayName` of a group (empty when unknown).
    pub identity: String,
    /// The HTTP status the request was answered with.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttributeChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<MembersDelta>,
    /// The identity-provider quirks Iris applied to understand the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quirks: Vec<String>,
    /// A refused request's body as sent (passwords redacted, at most 64 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

mod kind_name {
    use iris_scim::schema::ResourceKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &ResourceKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceKind, D::Error> {
        let raw = String::deserialize(d)?;
        ResourceKind::from_name(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource type '{raw}'")))
    }
}

impl ProvisioningEvent {
    /// An event of `context`'s request about one resource, successful unless said otherwise.
    pub fn new(
        context: &RequestContext,
        operation: Operation,
        kind: ResourceKind,
        resource_id: &str,
        identity: &str,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            at: clock::now(),
            request_id: context.request_id.clone(),
            client: context.client,
            method: context.method.clone(),
            operation,
            resource_type: kind,
            resource_id: resource_id.to_owned(),
            identity: identity.to_owned(),
            status: 200,
            scim_type: None,
            detail: None,
            changes: Vec::new(),
            members: None,
            quirks: Vec::new(),
            body: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn is_failure(&self) -> bool {
        self.status >= 400
    }

    /// The members part of the event, rendered for a person: `+2 -1 (added: …; removed: …)`.
    pub fn members_summary(&self) -> Option<String> {
        let delta = self.members.as_ref()?;
        Some(format!(
            "+{} -{}{}{}",
            delta.added.len(),
            delta.removed.len(),
            listed(" added: ", &delta.added),
            listed(" removed: ", &delta.removed)
        ))
    }
}

fn listed(label: &str, ids: &[String]) -> String {
    const SHOWN: usize = 5;
    if ids.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "{label}{}",
        ids.iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if ids.len() > SHOWN {
        out.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    out
}

/// The attribute that names a resource in the log (and that `iris log --user` matches).
pub fn identity_of(kind: ResourceKind, doc: &Document) -> String {
    doc.get(crate::resources::unique_attribute(kind))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Attributes whose values never reach the log.
fn is_secret(attribute: &str) -> bool {
    attribute
        .rsplit([':', '.'])
        .next()
        .is_some_and(|a| a.eq_ignore_ascii_case("password"))
}

/// The attribute-level differences between two documents: top-level attributes, and one level
/// into complex attributes and extensions (`name.givenName`, `urn:…:User:department`), so a
/// change reads as Entra's mappings name it. Multi-valued attributes compare as a whole.
pub fn diff(old: &Document, new: &Document) -> Vec<AttributeChange> {
    let mut changes = Vec::new();
    diff_into(&mut changes, "", old, new);
    changes
}

fn diff_into(
    out: &mut Vec<AttributeChange>,
    prefix: &str,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) {
    let mut names: Vec<&String> = old.keys().collect();
    names.extend(new.keys().filter(|k| !old.contains_key(*k)));
    for name in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else if prefix.starts_with("urn:") {
            format!("{prefix}:{name}")
        } else {
            format!("{prefix}.{name}")
        };
        if is_secret(&path) {
            continue;
        }
        let (before, after) = (old.get(name), new.get(name));
        if before == after {
            continue;
        }
        match (before, after) {
            // One level into complex values and extension objects.
            (Some(Value::Object(a)), Some(Value::Object(b))) if prefix.is_empty() => {
                diff_into(out, &path, a, b);
            }
            _ => out.push(AttributeChange {
                attribute: path,
                old: before.cloned(),
                new: after.cloned(),
            }),
        }
    }
}

/// Every attribute of a new document, as changes from nothing.
pub fn created(doc: &Document) -> Vec<AttributeChange> {
    diff(&Document::new(), doc)
}

/// The events of a modification of `kind` from `old` to `new` (when the document changed), and
/// a pending membership event when the request changed members: [`settle_members`] completes it
/// with the rows that actually changed.
pub fn modification(
    context: &RequestContext,
    kind: ResourceKind,
    id: &str,
    old: &Document,
    new: Option<&Document>,
    membership_changed: bool,
    quirks: &[String],
) -> Vec<ProvisioningEvent> {
    let shown = new.unwrap_or(old);
    let identity = identity_of(kind, shown);
    let mut events = Vec::new();
    if let Some(new) = new {
        let changes = diff(old, new);
        if !changes.is_empty() {
            let operation = classify(kind, &changes);
            let mut event = ProvisioningEvent::new(context, operation, kind, id, &identity);
            event.changes = changes;
            event.quirks = quirks.to_vec();
            events.push(event);
        }
    }
    if membership_changed {
        let mut event =
            ProvisioningEvent::new(context, Operation::MembersAdded, kind, id, &identity);
        event.members = Some(MembersDelta::default());
        if events.is_empty() {
            event.quirks = quirks.to_vec();
        }
        events.push(event);
    }
    events
}

/// Disable and enable of users are what an operator looks for first; a group's rename next.
fn classify(kind: ResourceKind, changes: &[AttributeChange]) -> Operation {
    let field = |name: &str| changes.iter().find(|c| c.attribute == name);
    if kind == ResourceKind::User
        && let Some(active) = field("active")
    {
        let was = active.old.as_ref().and_then(Value::as_bool).unwrap_or(true);
        let is = active.new.as_ref().and_then(Value::as_bool).unwrap_or(true);
        match (was, is) {
            (true, false) => return Operation::Disable,
            (false, true) => return Operation::Enable,
            _ => {}
        }
    }
    if kind == ResourceKind::Group && field("displayName").is_some() {
        return Operation::Rename;
    }
    Operation::Update
}

/// Completes the pending membership event of `events` with the member rows a transaction added
/// and removed: one `members-added` and one `members-removed` event as they apply, none when
/// nothing changed.
pub fn settle_members(
    events: &mut Vec<ProvisioningEvent>,
    added: Vec<String>,
    removed: Vec<String>,
) {
    let Some(at) = events.iter().position(|e| e.members.is_some()) else {
        return;
    };
    let pending = events.remove(at);
    if !removed.is_empty() {
        let mut event = pending.clone();
        event.operation = Operation::MembersRemoved;
        event.members = Some(MembersDelta {
            added: Vec::new(),
            removed,
        });
        event.id = uuid::Uuid::now_v7().to_string();
        events.insert(at, event);
    }
    if !added.is_empty() {
        let mut event = pending;
        event.operation = Operation::MembersAdded;
        event.members = Some(MembersDelta {
            added,
            removed: Vec::new(),
        });
        event.id = uuid::Uuid::now_v7().to_string();
        events.insert(at, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn ctx() -> RequestContext {
        RequestContext::new("req-1", Client::EntraId, "PATCH")
    }

    #[test]
    fn diffs_name_attributes_as_mappings_do() {
        let old = doc(
            json!({"userName": "ann", "name": {"givenName": "Ann", "familyName": "E"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
            "emails": [{"value": "a@x", "type": "work"}]}),
        );
        let new = doc(
            json!({"userName": "ann", "name": {"givenName": "Anne", "familyName": "E"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"},
            "emails": [{"value": "b@x", "type": "work"}], "title": "Dr"}),
        );
        let names: Vec<String> = diff(&old, &new).into_iter().map(|c| c.attribute).collect();
        assert_eq!(
            names,
            [
                "name.givenName",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "emails",
                "title"
            ]
        );
        let change = &diff(&old, &new)[0];
        assert_eq!(change.old, Some(json!("Ann")));
        assert_eq!(change.new, Some(json!("Anne")));
    }

    #[test]
    fn passwords_never_reach_the_log() {
        let old = doc(json!({"userName": "ann"}));
        let new = doc(json!({"userName": "ann", "password": "s3cret"}));
        assert!(diff(&old, &new).is_empty());
    }

    #[test]
    fn user_changes_to_active_are_disable_and_enable() {
        let on = doc(json!({"userName": "ann", "active": true}));
        let off = doc(json!({"userName": "ann", "active": false, "title": "x"}));
        let user = ResourceKind::User;
        let op = |a: &Document, b: &Document| {
            modification(&ctx(), user, "u1", a, Some(b), false, &[])[0].operation
        };
        assert_eq!(op(&on, &off), Operation::Disable);
        assert_eq!(op(&off, &on), Operation::Enable);
        assert_eq!(
            op(&doc(json!({"userName": "ann"})), &off),
            Operation::Disable
        );
        let titled = doc(json!({"userName": "ann", "active": true, "title": "y"}));
        assert_eq!(op(&on, &titled), Operation::Update);
        let group = |a: Value, b: Value| {
            modification(
                &ctx(),
                ResourceKind::Group,
                "g1",
                &doc(a),
                Some(&doc(b)),
                false,
                &[],
            )[0]
            .operation
        };
        assert_eq!(
            group(json!({"displayName": "A"}), json!({"displayName": "B"})),
            Operation::Rename
        );
        assert_eq!(
            group(
                json!({"displayName": "A"}),
                json!({"displayName": "A", "externalId": "x"})
            ),
            Operation::Update
        );
    }

    #[test]
    fn membership_events_carry_the_rows_that_changed() {
        let g = doc(json!({"displayName": "A"}));
        let mut events = modification(
            &ctx(),
            ResourceKind::Group,
            "g1",
            &g,
            None,
            true,
            &["remove-by-value".into()],
        );
        assert_eq!(events.len(), 1);
        settle_members(
            &mut events,
            vec!["u1".into(), "u2".into()],
            vec!["u3".into()],
        );
        let ops: Vec<Operation> = events.iter().map(|e| e.operation).collect();
        assert_eq!(ops, [Operation::MembersAdded, Operation::MembersRemoved]);
        assert_eq!(events[0].members.as_ref().unwrap().added, ["u1", "u2"]);
        assert_eq!(events[1].members.as_ref().unwrap().removed, ["u3"]);
        assert_ne!(events[0].id, events[1].id);
        assert_eq!(events[0].identity, "A");
        assert_eq!(events[0].members_summary().unwrap(), "+2 -0 added: u1, u2");
        let mut none = modification(&ctx(), ResourceKind::Group, "g1", &g, None, true, &[]);
        settle_members(&mut none, Vec::new(), Vec::new());
        assert!(none.is_empty(), "a no-op membership change records nothing");
    }
}
