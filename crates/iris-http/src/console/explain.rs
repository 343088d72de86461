//! What a refused request means, and what to change on the identity provider's side (in Entra's
//! terms: Provisioning → Mappings → the object's attribute mappings). Keyed on the SCIM error
//! type Iris answered with, then on the status; written for the customer's admin, not for us.

use iris_core::ResourceKind;
use iris_core::provisioning::ProvisioningEvent;

/// A failure, explained.
pub struct Explanation {
    pub meaning: String,
    pub fix: String,
}

fn mapping_page(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "Provisioning → Mappings → “Provision Microsoft Entra ID Users”",
        ResourceKind::Group => "Provisioning → Mappings → “Provision Microsoft Entra ID Groups”",
    }
}

fn matching_attribute(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    }
}

pub fn failure(e: &ProvisioningEvent) -> Explanation {
    let kind = e.resource_type;
    let object = kind.name().to_lowercase();
    let mappings = mapping_page(kind);
    let matching = matching_attribute(kind);
    let (meaning, fix) = match (e.scim_type.as_deref(), e.status) {
        (Some("uniqueness"), _) | (_, 409) => (
            format!("Iris already has a {object} with this {matching} (or externalId) in this tenant, so it refused to create or rename a second one. Usually Entra did not find the existing {object} when it looked it up, and tried to create it again."),
            format!("In {mappings}, make sure {matching} is the matching attribute (“Match objects using this attribute: Yes”, matching precedence 1) and that its source is unique and stable (for users, userPrincipalName or mail). If two Entra objects map to the same {matching}, change the mapping's source or expression so they differ. If the {object} in Iris is left over from an earlier setup, delete it there or use “Restart provisioning”."),
        ),
        (Some("invalidFilter"), _) => (
            "Entra looked an object up with a filter Iris could not read, or on an attribute Iris cannot filter on.".to_owned(),
            format!("In {mappings}, set the matching attribute to one Iris can filter on: userName, externalId or emails[type eq \"work\"].value for users, displayName or externalId for groups. Custom attributes cannot be matching attributes."),
        ),
        (Some("invalidPath" | "noTarget"), _) => (
            "A PATCH named an attribute path Iris's schema does not have, or a value filter that matched nothing it could change.".to_owned(),
            format!("In {mappings}, check the target attribute of each mapping against Iris's schema (/Schemas): a misspelt or custom target (for example a custom extension URN) cannot be written. Remove that mapping, or map it to a standard attribute. For Entra's older PATCH format, add ?aadOptscim062020 to the Tenant URL."),
        ),
        (Some("mutability"), _) => (
            format!("The request tried to change an attribute of the {object} that is read-only or immutable (such as id, meta or a user's groups)."),
            format!("In {mappings}, delete the mapping whose target is the read-only attribute named in Iris's answer. Group memberships are provisioned through the groups' members, never through a user's groups attribute."),
        ),
        (Some("invalidValue"), _) => (
            "A value did not fit its attribute: the wrong type (text where a boolean is expected), a malformed value (an email or a dateTime), or a required attribute that was empty.".to_owned(),
            format!("In {mappings}, open the mapping of the attribute named in Iris's answer. If its source is empty for this {object}, give the mapping a default value or an expression with a fallback (Coalesce); if it produces the wrong type, fix the expression (for active use Switch([IsSoftDeleted], …) as Entra's default does). Check “Edit attribute list” for the target's type."),
        ),
        (Some("invalidSyntax"), _) => (
            "The request's body was not SCIM JSON Iris could read (malformed JSON, or an attribute of the wrong shape).".to_owned(),
            format!("Check the expressions in {mappings} that build complex values (addresses, emails, phone numbers): one produces a value of the wrong shape. The body Entra sent is below; if it looks correct, report it with the request id."),
        ),
        (Some("tooMany"), _) => (
            "The lookup Entra sent matched more objects than Iris returns at once.".to_owned(),
            format!("In {mappings}, choose a matching attribute whose values are unique ({matching} or externalId)."),
        ),
        (Some("invalidVers"), _) | (_, 412) => (
            format!("The {object} changed between Entra reading it and writing it (its version no longer matched)."),
            "Nothing to change: Entra reads the object again and retries on its next cycle.".to_owned(),
        ),
        (_, 404) => (
            format!("Entra referred to a {object} that Iris does not have: it was deleted in Iris outside Entra, or Entra's record of it is from another tenant or an earlier database."),
            "Nothing in the mappings. If the object is still in scope, Entra creates it again on a later cycle; if the errors repeat for many objects, use “Restart provisioning” so Entra forgets the ids it cached.".to_owned(),
        ),
        (_, 401 | 403) => (
            "The request's Secret Token was refused: revoked, expired, or from another tenant.".to_owned(),
            "In Provisioning → Admin Credentials, paste a live Secret Token of this tenant (issue one on the Tokens page), then Test Connection and Save.".to_owned(),
        ),
        (_, 413) => (
            "The request's body was larger than Iris accepts (typically a group with very many members in one request).".to_owned(),
            "Nothing in the mappings: ask the Iris operator to raise --max-body-bytes, or reduce the members sent per request.".to_owned(),
        ),
        (_, 429) => (
            "Iris refused the request because the tenant exceeded its rate limit.".to_owned(),
            "Nothing to change in Entra: it slows down and retries. If the limit is too low for this tenant, the Iris operator can raise --rate-limit-tenant-per-second.".to_owned(),
        ),
        (_, status) if status >= 500 => (
            "Iris could not complete the request (an internal failure, an overloaded or unavailable database, or a timeout). The mapping did not cause it.".to_owned(),
            "Nothing to change in Entra: it retries. The Iris operator finds the cause in the server's log under the request id.".to_owned(),
        ),
        _ => (
            format!("Iris refused the request with status {} because of its content.", e.status),
            format!("Read Iris's answer below and check the mapping of the attribute it names in {mappings}."),
        ),
    };
    Explanation { meaning, fix }
}

#[cfg(test)]
mod tests {
    use iris_core::provisioning::{Client, Operation, ProvisioningEvent, RequestContext};

    use super::*;

    fn refused(scim_type: Option<&str>, status: u16) -> ProvisioningEvent {
        let context = RequestContext::new("req", Client::EntraId, "POST");
        let mut e =
            ProvisioningEvent::new(&context, Operation::Create, ResourceKind::User, "", "ada")
                .with_status(status);
        e.scim_type = scim_type.map(str::to_owned);
        e
    }

    #[test]
    fn each_kind_of_refusal_gets_its_own_advice() {
        let cases = [
            (Some("uniqueness"), 409, "matching attribute"),
            (Some("invalidFilter"), 400, "filter on"),
            (Some("invalidPath"), 400, "target attribute"),
            (Some("mutability"), 400, "read-only"),
            (Some("invalidValue"), 400, "default value"),
            (Some("invalidSyntax"), 400, "expressions"),
            (None, 404, "Restart provisioning"),
            (None, 401, "Admin Credentials"),
            (None, 429, "rate-limit"),
            (None, 503, "server's log"),
        ];
        let mut fixes = std::collections::BTreeSet::new();
        for (scim_type, status, expected) in cases {
            let x = failure(&refused(scim_type, status));
            assert!(
                x.fix.contains(expected) || x.meaning.contains(expected),
                "{scim_type:?} {status}: {}",
                x.fix
            );
            fixes.insert(x.fix);
        }
        assert_eq!(fixes.len(), cases.len(), "no two share their advice");
    }

    #[test]
    fn group_failures_point_at_the_group_mappings() {
        let mut e = refused(Some("uniqueness"), 409);
        e.resource_type = ResourceKind::Group;
        let x = failure(&e);
        assert!(
            x.fix.contains("Provision Microsoft Entra ID Groups"),
            "{}",
            x.fix
        );
        assert!(x.fix.contains("displayName"), "{}", x.fix);
    }
}
