//! Which request, from which client: what the provisioning log records with every change.

use serde::{Deserialize, Serialize};

/// The identity provider (or other client) a request came from, read from its `User-Agent`.
/// Microsoft does not document the header its provisioning service sends, so Entra is recognised
/// by the names it goes by (and by its `aadOptscim062020` flag, see [`Client::detect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    EntraId,
    Okta,
    OneLogin,
    /// The operator's own tools (the CLI, the admin API) or anything unrecognised.
    Other,
}

impl Client {
    pub const ALL: [Self; 4] = [Self::EntraId, Self::Okta, Self::OneLogin, Self::Other];

    /// The client that sent `user_agent`; `entra_flag` when the request carries Entra's
    /// `aadOptscim062020` query flag.
    pub fn detect(user_agent: Option<&str>, entra_flag: bool) -> Self {
        let ua = user_agent.unwrap_or_default().to_ascii_lowercase();
        let has = |needle: &str| ua.contains(needle);
        if entra_flag || has("azure") || has("aad") || has("entra") || has("microsoft") {
            Self::EntraId
        } else if has("okta") {
            Self::Okta
        } else if has("onelogin") {
            Self::OneLogin
        } else {
            Self::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EntraId => "entra-id",
            Self::Okta => "okta",
            Self::OneLogin => "onelogin",
            Self::Other => "other",
        }
    }

    /// The name an operator reads (the `Source System` of the CSV).
    pub fn display(self) -> &'static str {
        match self {
            Self::EntraId => "Microsoft Entra ID",
            Self::Okta => "Okta",
            Self::OneLogin => "OneLogin",
            Self::Other => "Other",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// The request a change is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The `X-Request-Id` the response carries.
    pub request_id: String,
    pub client: Client,
    /// The HTTP method (`POST`, `PATCH`, …), or the name of the command that made the change.
    pub method: String,
}

impl RequestContext {
    pub fn new(request_id: impl Into<String>, client: Client, method: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            client,
            method: method.into(),
        }
    }

    /// A change an operator's command makes, outside any HTTP request.
    pub fn command(name: &str) -> Self {
        Self::new(
            uuid::Uuid::now_v7().to_string(),
            Client::Other,
            name.to_owned(),
        )
    }
}

/// Longest request id accepted from a client; longer or stranger ones are replaced.
pub const MAX_REQUEST_ID: usize = 128;

/// Whether a client's `X-Request-Id` can be kept: 1 to [`MAX_REQUEST_ID`] visible ASCII
/// characters from a conservative set, so it is safe in logs, headers and CSV alike.
pub fn is_well_formed_request_id(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= MAX_REQUEST_ID
        && raw.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_recognised_by_their_user_agent() {
        for (ua, flag, client) in [
            (
                Some("Azure Active Directory SCIM Client"),
                false,
                Client::EntraId,
            ),
            (
                Some("Microsoft.AAD.Provisioning/1.0"),
                false,
                Client::EntraId,
            ),
            (None, true, Client::EntraId),
            (Some("Okta SCIM Client 1.0.0"), false, Client::Okta),
            (Some("OneLogin-SCIM/2.0"), false, Client::OneLogin),
            (Some("curl/8.5.0"), false, Client::Other),
            (None, false, Client::Other),
        ] {
            assert_eq!(Client::detect(ua, flag), client, "{ua:?}");
            assert_eq!(Client::parse(client.as_str()), Some(client));
        }
    }

    #[test]
    fn only_tame_request_ids_are_kept() {
        for ok in ["5f0c-42", "abc.DEF_1:2/3+4=", &"a".repeat(MAX_REQUEST_ID)] {
            assert!(is_well_formed_request_id(ok), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "a\nb",
            "é",
            "a,b",
            "\"x\"",
            &"a".repeat(MAX_REQUEST_ID + 1),
        ] {
            assert!(!is_well_formed_request_id(bad), "{bad:?}");
        }
    }
}
