//! `NormalizeDiacritics`: the single-character replacements of Microsoft's table (characters
//! written with combining marks lose the marks).

const TABLE: &[(&str, &str)] = &[
    ("äàâãåáąăāǟǡ", "a"),
    ("ÄÀÂÃÅÁĄĂĀǞǠ", "A"),
    ("æǣ", "ae"),
    ("ÆǢ", "AE"),
    ("çčć", "c"),
    ("ÇČĆ", "C"),
    ("ďḏ", "d"),
    ("ĎḎ", "D"),
    ("ëèéêęěėēḗḕ", "e"),
    ("ËÈÉÊĘĚĖĒḖḔ", "E"),
    ("ğḡ", "g"),
    ("ĞḠ", "G"),
    ("ïîìíıī", "i"),
    ("ÏÎÌÍİĪ", "I"),
    ("ľłḹḻ", "l"),
    ("ŁĽḸḺ", "L"),
    ("ñńňṉ", "n"),
    ("ÑŃŇṈ", "N"),
    ("öòőõôóōṓṑȫǭȭȱ", "o"),
    ("ÖÒŐÕÔÓŌṒṐȪǬȬȰ", "O"),
    ("ø", "oe"),
    ("Ø", "OE"),
    ("řṟṝ", "r"),
    ("ŘṞṜ", "R"),
    ("ß", "ss"),
    ("šśșş", "s"),
    ("ŠŚȘŞ", "S"),
    ("ťțṯ", "t"),
    ("ŤȚṮ", "T"),
    ("üùûúůűūǖṻ", "u"),
    ("ÜÙÛÚŮŰŪǕṺ", "U"),
    ("ÿýȳ", "y"),
    ("ŸÝȲ", "Y"),
    ("źžżẕ", "z"),
    ("ŹŽŻẔ", "Z"),
];

pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // Combining diacritical marks (U+0300–U+036F) are dropped.
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue;
        }
        match TABLE.iter().find(|(from, _)| from.contains(c)) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
}
