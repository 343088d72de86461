//! The schema registry: every attribute Iris knows, with its RFC 7643 §2 characteristics. Validation,
//! filtering, PATCH, projection and the discovery endpoints are all driven from these definitions, so
//! what `/Schemas` advertises is exactly what the server does.

use std::sync::LazyLock;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR_MESSAGE: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: Vec<Attribute>,
    pub description: &'static str,
    /// The most values a multi-valued attribute of a stored document holds
    /// ([`crate::limits::MAX_VALUES_PER_ATTRIBUTE`]); `None` when it is not bounded that way.
    pub max_values: Option<usize>,
}

impl Attribute {
    fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: Vec::new(),
            description,
            max_values: None,
        }
    }

    fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }

    fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        Self {
            reference_types: types,
            ..Self::new(name, AttrType::Reference, description)
        }
    }

    fn complex(name: &'static str, subs: Vec<Attribute>, description: &'static str) -> Self {
        Self {
            sub_attributes: subs,
            ..Self::new(name, AttrType::Complex, description)
        }
    }

    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self.max_values = Some(crate::limits::MAX_VALUES_PER_ATTRIBUTE);
        self
    }

    /// A multi-valued attribute whose values are not kept in the document (a group's `members`
    /// live in their own table, bounded per PATCH operation instead), so the per-attribute bound
    /// does not apply.
    fn stored_apart(mut self) -> Self {
        self.max_values = None;
        self
    }

    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// Finds a sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The schema-representation JSON of this attribute (RFC 7643 §7), as `/Schemas` serves it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::json!({
            "name": self.name,
            "type": self.ty.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability.as_str(),
            "returned": self.returned.as_str(),
            "uniqueness": self.uniqueness.as_str(),
        });
        if let Some(map) = obj.as_object_mut() {
            if !self.canonical_values.is_empty() {
                map.insert("canonicalValues".into(), self.canonical_values.into());
            }
            if self.ty == AttrType::Reference {
                map.insert("referenceTypes".into(), self.reference_types.into());
            }
            if self.ty == AttrType::Complex {
                let subs: Vec<_> = self.sub_attributes.iter().map(Attribute::to_json).collect();
                map.insert("subAttributes".into(), subs.into());
            }
        }
        obj
    }
}

/// A schema (RFC 7643 §7): its URN and top-level attributes.
#[derive(Debug, Clone)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn to_json(&self, base_url: &str) -> serde_json::Value {
        let attrs: Vec<_> = self.attributes.iter().map(Attribute::to_json).collect();
        serde_json::json!({
            "schemas": [SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attrs,
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            },
        })
    }
}

/// The kinds of resource Iris serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// Every kind, in the order listings that span kinds present them (users, then groups).
    pub const ALL: [Self; 2] = [Self::User, Self::Group];

    /// The resource type this kind's resources follow.
    pub fn resource_type(self) -> &'static ResourceType {
        match self {
            Self::User => user_type(),
            Self::Group => group_type(),
        }
    }

    /// The resource type's name (`User`, `Group`): `meta.resourceType`, a member's `type`.
    pub fn name(self) -> &'static str {
        self.resource_type().name
    }

    /// The endpoint's path segment (`Users`, `Groups`), without the slash.
    pub fn endpoint(self) -> &'static str {
        self.resource_type().endpoint.trim_start_matches('/')
    }

    /// The kind whose name is `raw`, ignoring case (a member's `type` as clients send it).
    pub fn from_name(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(raw))
    }
}

/// A resource type (RFC 7643 §6): endpoint, core schema, extensions.
#[derive(Debug)]
pub struct ResourceType {
    pub kind: ResourceKind,
    pub id: &'static str,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static Schema,
    pub extensions: Vec<(&'static Schema, bool)>,
}

impl ResourceType {
    /// Every schema URN that can appear in a resource of this type, core first.
    pub fn schema_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.schema.id).chain(self.extensions.iter().map(|(s, _)| s.id))
    }

    /// The extension schema whose URN equals `urn`, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .map(|(s, _)| *s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The schema (core or extension) with this URN.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static Schema> {
        if self.schema.id.eq_ignore_ascii_case(urn) {
            Some(self.schema)
        } else {
            self.extension(urn)
        }
    }

    /// Splits a possibly URN-qualified attribute name (`urn:…:User:userName`,
    /// `urn:…:enterprise:2.0:User:manager`) into its schema and the rest of the path
    /// (`manager`, `name.givenName`). A bare name resolves against the core schema. `None` if the
    /// URN prefix names no schema of this type.
    pub fn split_urn<'a>(&self, name: &'a str) -> Option<(&'static Schema, &'a str)> {
        for schema in self.schema_ids().filter_map(|id| self.schema_by_urn(id)) {
            let id = schema.id;
            if name.len() > id.len()
                && name.as_bytes()[id.len()] == b':'
                && name[..id.len()].eq_ignore_ascii_case(id)
            {
                return Some((schema, &name[id.len() + 1..]));
            }
        }
        if name.to_ascii_lowercase().starts_with("urn:") {
            return None;
        }
        Some((self.schema, name))
    }

    pub fn to_json(&self, base_url: &str) -> serde_json::Value {
        let extensions: Vec<_> = self
            .extensions
            .iter()
            .map(|(s, required)| serde_json::json!({"schema": s.id, "required": required}))
            .collect();
        serde_json::json!({
            "schemas": [RESOURCE_TYPE],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": extensions,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.id),
            },
        })
    }
}

/// The attributes every resource has (RFC 7643 §3.1): `id`, `externalId`, `meta`. They are
/// advertised as part of each core schema, as Entra's schema discovery expects.
fn common_attributes() -> Vec<Attribute> {
    use Mutability::ReadOnly;
    vec![
        Attribute::string(
            "id",
            "Unique identifier for the resource, assigned by Iris.",
        )
        .case_exact()
        .mutability(ReadOnly)
        .returned(Returned::Always)
        .unique(Uniqueness::Server),
        Attribute::string(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        Attribute::complex(
            "meta",
            vec![
                Attribute::string("resourceType", "Name of the resource type.")
                    .case_exact()
                    .mutability(ReadOnly),
                Attribute::new(
                    "created",
                    AttrType::DateTime,
                    "When the resource was added.",
                )
                .mutability(ReadOnly),
                Attribute::new(
                    "lastModified",
                    AttrType::DateTime,
                    "When the resource was last updated.",
                )
                .mutability(ReadOnly),
                Attribute::reference("location", &["uri"], "URI of the resource.")
                    .case_exact()
                    .mutability(ReadOnly),
                Attribute::string("version", "Version (weak entity tag) of the resource.")
                    .case_exact()
                    .mutability(ReadOnly),
            ],
            "Resource metadata.",
        )
        .mutability(ReadOnly)
        // Always returned: the version in `meta` is how clients (and the ETag-aware ones in
        // particular) keep track of what they read, also in projected responses.
        .returned(Returned::Always),
    ]
}

/// `value`/`display`/`type`/`primary` multi-valued shape shared by emails, phoneNumbers, ims, photos,
/// entitlements, roles and x509Certificates.
fn multi_valued_strings(
    name: &'static str,
    value_type: AttrType,
    types: &'static [&'static str],
    description: &'static str,
) -> Attribute {
    Attribute::complex(
        name,
        vec![
            Attribute::new("value", value_type, "The value."),
            Attribute::string("display", "A human-readable name, primarily for display."),
            Attribute::string("type", "A label indicating the attribute's function.")
                .canonical(types),
            Attribute::boolean(
                "primary",
                "Whether this is the primary value of the attribute.",
            ),
        ],
        description,
    )
    .multi()
}

fn group_reference(name: &'static str, description: &'static str) -> Attribute {
    use Mutability::ReadOnly;
    Attribute::complex(
        name,
        vec![
            Attribute::string("value", "The identifier of the group.").mutability(ReadOnly),
            Attribute::reference("$ref", &["User", "Group"], "The URI of the group.")
                .mutability(ReadOnly),
            Attribute::string("display", "A human-readable name of the group.")
                .mutability(ReadOnly),
            Attribute::string("type", "How the membership was derived.")
                .canonical(&["direct", "indirect"])
                .mutability(ReadOnly),
        ],
        description,
    )
    .multi()
    .mutability(ReadOnly)
}

fn user_schema() -> Schema {
    use Mutability::WriteOnly;
    let mut attributes = common_attributes();
    attributes.extend([
        Attribute::string(
            "userName",
            "Unique identifier for the user, used to sign in.",
        )
        .required()
        .unique(Uniqueness::Server),
        Attribute::complex(
            "name",
            vec![
                Attribute::string("formatted", "The full name, formatted for display."),
                Attribute::string("familyName", "The family name."),
                Attribute::string("givenName", "The given name."),
                Attribute::string("middleName", "The middle name(s)."),
                Attribute::string("honorificPrefix", "The honorific prefix(es)."),
                Attribute::string("honorificSuffix", "The honorific suffix(es)."),
            ],
            "The components of the user's real name.",
        ),
        Attribute::string("displayName", "The name of the user, suitable for display."),
        Attribute::string("nickName", "The casual way to address the user."),
        Attribute::reference(
            "profileUrl",
            &["external"],
            "A URI to the user's online profile.",
        ),
        Attribute::string("title", "The user's title, such as \"Vice President\"."),
        Attribute::string(
            "userType",
            "The relationship between the organization and the user.",
        ),
        Attribute::string(
            "preferredLanguage",
            "The user's preferred written or spoken language.",
        ),
        Attribute::string("locale", "The user's default location for localisation."),
        Attribute::string(
            "timezone",
            "The user's time zone in IANA Time Zone database format.",
        ),
        Attribute::boolean("active", "The user's administrative status."),
        Attribute::string("password", "The user's cleartext password; never returned.")
            .mutability(WriteOnly)
            .returned(Returned::Never),
        multi_valued_strings(
            "emails",
            AttrType::String,
            &["work", "home", "other"],
            "Email addresses for the user.",
        ),
        multi_valued_strings(
            "phoneNumbers",
            AttrType::String,
            &["work", "home", "mobile", "fax", "pager", "other"],
            "Phone numbers for the user.",
        ),
        multi_valued_strings(
            "ims",
            AttrType::String,
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            "Instant messaging addresses for the user.",
        ),
        multi_valued_strings(
            "photos",
            AttrType::Reference,
            &["photo", "thumbnail"],
            "URLs of photos of the user.",
        ),
        Attribute::complex(
            "addresses",
            vec![
                Attribute::string(
                    "formatted",
                    "The full mailing address, formatted for display.",
                ),
                Attribute::string("streetAddress", "The full street address component."),
                Attribute::string("locality", "The city or locality component."),
                Attribute::string("region", "The state or region component."),
                Attribute::string("postalCode", "The zip code or postal code component."),
                Attribute::string("country", "The country name component."),
                Attribute::string("type", "A label indicating the address's function.")
                    .canonical(&["work", "home", "other"]),
                Attribute::boolean("primary", "Whether this is the primary address."),
            ],
            "A physical mailing address for the user.",
        )
        .multi(),
        group_reference(
            "groups",
            "The groups the user belongs to, derived from memberships.",
        ),
        multi_valued_strings(
            "entitlements",
            AttrType::String,
            &[],
            "Entitlements of the user.",
        ),
        multi_valued_strings("roles", AttrType::String, &[], "Roles of the user."),
        multi_valued_strings(
            "x509Certificates",
            AttrType::Binary,
            &[],
            "X.509 certificates of the user.",
        ),
    ]);
    if let Some(photo) = attributes.iter_mut().find(|a| a.name == "photos")
        && let Some(v) = photo.sub_attributes.iter_mut().find(|a| a.name == "value")
    {
        v.reference_types = &["external"];
    }
    Schema {
        id: USER,
        name: "User",
        description: "User Account",
        attributes,
    }
}

fn enterprise_user_schema() -> Schema {
    Schema {
        id: ENTERPRISE_USER,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: vec![
            Attribute::string(
                "employeeNumber",
                "A string identifier of the user within the organization.",
            ),
            Attribute::string("costCenter", "The name of a cost center."),
            Attribute::string("organization", "The name of an organization."),
            Attribute::string("division", "The name of a division."),
            Attribute::string("department", "The name of a department."),
            Attribute::complex(
                "manager",
                vec![
                    Attribute::string(
                        "value",
                        "The id of the SCIM resource representing the user's manager.",
                    ),
                    Attribute::reference("$ref", &["User"], "The URI of the manager's resource."),
                    Attribute::string("displayName", "The display name of the manager.")
                        .mutability(Mutability::ReadOnly),
                ],
                "The user's manager.",
            ),
        ],
    }
}

fn group_schema() -> Schema {
    let mut attributes = common_attributes();
    attributes.extend([
        Attribute::string("displayName", "A human-readable name for the group.")
            .required()
            .unique(Uniqueness::Server),
        Attribute::complex(
            "members",
            vec![
                Attribute::string("value", "Identifier of the member.")
                    .mutability(Mutability::Immutable),
                Attribute::reference("$ref", &["User", "Group"], "The URI of the member.")
                    .mutability(Mutability::Immutable),
                Attribute::string("display", "A human-readable name of the member.")
                    .mutability(Mutability::ReadOnly),
                Attribute::string("type", "The type of the member.")
                    .canonical(&["User", "Group"])
                    .mutability(Mutability::Immutable),
            ],
            "The members of the group.",
        )
        .multi()
        .stored_apart(),
    ]);
    Schema {
        id: GROUP,
        name: "Group",
        description: "Group",
        attributes,
    }
}

static USER_SCHEMA: LazyLock<Schema> = LazyLock::new(user_schema);
static ENTERPRISE_USER_SCHEMA: LazyLock<Schema> = LazyLock::new(enterprise_user_schema);
static GROUP_SCHEMA: LazyLock<Schema> = LazyLock::new(group_schema);

static USER_TYPE: LazyLock<ResourceType> = LazyLock::new(|| ResourceType {
    kind: ResourceKind::User,
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: vec![(&*ENTERPRISE_USER_SCHEMA, false)],
});

static GROUP_TYPE: LazyLock<ResourceType> = LazyLock::new(|| ResourceType {
    kind: ResourceKind::Group,
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: Vec::new(),
});

/// The User resource type (core User schema plus the enterprise extension).
pub fn user_type() -> &'static ResourceType {
    &USER_TYPE
}

/// The Group resource type.
pub fn group_type() -> &'static ResourceType {
    &GROUP_TYPE
}

/// Resource types served over HTTP.
pub fn served_resource_types() -> Vec<&'static ResourceType> {
    vec![user_type(), group_type()]
}

/// Every schema advertised by `/Schemas`.
pub fn served_schemas() -> Vec<&'static Schema> {
    vec![&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA]
}

/// Looks a served schema up by URN, case-insensitively.
pub fn schema_by_id(id: &str) -> Option<&'static Schema> {
    served_schemas()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_qualified_names_split_into_schema_and_attribute() {
        let rt = user_type();
        let (s, rest) = rt
            .split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
            .unwrap();
        assert_eq!(s.id, ENTERPRISE_USER);
        assert_eq!(rest, "manager");
        let (s, rest) = rt
            .split_urn("URN:IETF:params:scim:schemas:core:2.0:User:name.givenName")
            .unwrap();
        assert_eq!(s.id, USER);
        assert_eq!(rest, "name.givenName");
        let (s, rest) = rt.split_urn("userName").unwrap();
        assert_eq!((s.id, rest), (USER, "userName"));
        assert!(rt.split_urn("urn:example:unknown:attr").is_none());
    }

    #[test]
    fn attribute_lookup_ignores_case() {
        let schema = user_type().schema;
        assert_eq!(schema.attribute("USERNAME").unwrap().name, "userName");
        let emails = schema.attribute("emails").unwrap();
        assert_eq!(emails.sub_attribute("Value").unwrap().name, "value");
    }
}
