//! `/Groups` and memberships: Entra's group flow from entra-compat §4 with the request bodies Entra
//! sends, the membership rules (lessons.md items 1 and 6), the user side (`groups`, cascades),
//! filters, PATCH answers, streaming member reads, root search and export/import.

mod lifecycle;
mod listing;
mod membership;
mod transfer;
