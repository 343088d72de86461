//! Users beyond Entra's happy path: PUT, ETags and preconditions (RFC 7644 §3.5.1, §3.14), the full
//! attribute set, what Entra's POSTs look like (entra-compat §3.3), projections (§3.4.2.5, §3.9),
//! Entra's PATCH dialects (§3.5), Tenant URL quirks (§2.2) and the health probes.

mod patch_rules;
mod patch_values;
mod posts_and_projection;
mod put_and_etags;
mod routing;
