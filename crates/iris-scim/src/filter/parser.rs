//! Hand-written lexer and recursive-descent parser for SCIM filters (RFC 7644 §3.4.2.2) and PATCH
//! paths (RFC 7644 §3.5.2).
//!
//! Grammar (precedence from loosest to tightest):
//!
//! ```text
//! filter     = and *("or" and)
//! and        = unary *("and" unary)
//! unary      = "(" filter ")" / "not" "(" filter ")" / attrExpr
//! attrExpr   = attrPath "pr" / attrPath compareOp value
//!            / attrPath "[" filter "]" ["." subAttr ("pr" / compareOp value)]
//! path       = attrPath / attrPath "[" filter "]" ["." subAttr]
//! ```
//!
//! Beyond the RFC, for Microsoft Entra: `attr[filter].sub op value` (desugared into
//! `attr[filter and sub op value]`), and unquoted legacy values (`externalId eq jyoung`).
//!
//! Untrusted input is bounded by [`FilterLimits`]: the input length, the nesting depth (the parser
//! recurses once per `(`/`[`, so the depth check is what keeps the stack bounded) and the number of
//! comparisons (which bounds the length of the left-leaning `and`/`or` chains that later stages
//! walk recursively).

use super::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::error::ScimError;

/// Configured limits are clamped to these, because the AST is processed recursively (resolution,
/// evaluation, `Display`, `Drop`) and must stay far from the 2 MiB default thread stack whatever
/// an operator configures.
const DEPTH_CAP: usize = 64;
const TERMS_CAP: usize = 1024;

/// Resource limits for parsing untrusted filters and paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// Maximum input length in bytes.
    pub max_length: usize,
    /// Maximum nesting of `(`, `not (` and `[` (clamped to 64).
    pub max_depth: usize,
    /// Maximum number of `pr` and comparison terms (clamped to 1024).
    pub max_terms: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            max_length: 4096,
            max_depth: 32,
            max_terms: 256,
        }
    }
}

/// A syntax error, with the 1-based character column where it was detected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct FilterError {
    pub message: String,
    pub column: usize,
}

impl FilterError {
    fn new(message: impl Into<String>, column: usize) -> Self {
        Self {
            message: message.into(),
            column,
        }
    }

    /// The error as an `invalidPath` SCIM error, for PATCH paths.
    pub fn into_invalid_path(self) -> ScimError {
        ScimError::invalid_path(format!("invalid path: {self}"))
    }
}

impl From<FilterError> for ScimError {
    fn from(err: FilterError) -> Self {
        ScimError::invalid_filter(format!("invalid filter: {err}"))
    }
}

/// Parses a `filter` query parameter (or `SearchRequest.filter`).
pub fn parse_filter(input: &str, limits: &FilterLimits) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input, limits, "filter")?;
    let filter = parser.parse_or(None)?;
    parser.expect_end()?;
    Ok(filter)
}

/// Parses a PATCH operation `path`: `attr`, `attr.sub`, `urn:…:attr[.sub]`, `attr[filter]`,
/// `attr[filter].sub`.
pub fn parse_path(input: &str, limits: &FilterLimits) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input, limits, "path")?;
    let token = parser.next()?;
    let Tok::Word(word) = token.tok else {
        return Err(FilterError::new(
            format!("expected an attribute name, found {}", token.tok.describe()),
            token.col,
        ));
    };
    let attr = parser.attr_path(&word, token.col, None)?;
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if parser.peek()?.tok == Tok::LBracket {
        let open = parser.next()?;
        path.filter = Some(parser.value_filter(&path.attr, &word, open.col)?);
        path.sub = parser.trailing_sub()?.map(|(sub, _)| sub);
    }
    parser.expect_end()?;
    Ok(path)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A run of `[A-Za-z0-9:._$-]`: attribute path, operator or keyword.
    Word(String),
    /// A JSON string literal, unescaped.
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    End,
}

impl Tok {
    /// How the token appears in error messages.
    fn describe(&self) -> String {
        match self {
            Self::Word(w) if is_logical_keyword(w) => format!("keyword '{w}'"),
            Self::Word(w) => format!("'{}'", shorten(w)),
            Self::Str(s) => {
                let json = serde_json::to_string(s).unwrap_or_default();
                format!("string {}", shorten(&json))
            }
            Self::LParen => "'('".into(),
            Self::RParen => "')'".into(),
            Self::LBracket => "'['".into(),
            Self::RBracket => "']'".into(),
            Self::End => "end of input".into(),
        }
    }
}

/// Keeps error messages readable when the offending token is huge.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character column of the token's first character.
    col: usize,
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '$' | '-')
}

/// Characters that end an unquoted value.
fn is_delimiter(c: char) -> bool {
    matches!(c, '(' | ')' | '[' | ']' | '"')
}

fn is_logical_keyword(word: &str) -> bool {
    ["and", "or", "not"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
}

/// RFC 7643 `ATTRNAME = ALPHA *(nameChar)`, plus `$ref`-style names with a leading `$`.
fn is_attr_name(name: &str) -> bool {
    let body = name.strip_prefix('$').unwrap_or(name);
    let mut chars = body.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The JSON number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    fn digits(b: &[u8], i: &mut usize) -> usize {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    }
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            digits(b, &mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(b, &mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(b, &mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

struct Parser<'l> {
    chars: Vec<char>,
    pos: usize,
    peeked: Option<Token>,
    limits: &'l FilterLimits,
    depth: usize,
    terms: usize,
    /// "filter" or "path", for messages about the input as a whole.
    what: &'static str,
}

impl<'l> Parser<'l> {
    fn new(input: &str, limits: &'l FilterLimits, what: &'static str) -> Result<Self, FilterError> {
        if input.len() > limits.max_length {
            // Point at the first character that does not fit entirely within the limit.
            let column = input
                .char_indices()
                .take_while(|(i, c)| i + c.len_utf8() <= limits.max_length)
                .count()
                + 1;
            return Err(FilterError::new(
                format!("{what} is longer than {} bytes", limits.max_length),
                column,
            ));
        }
        if input.chars().all(is_whitespace) {
            return Err(FilterError::new(format!("{what} is empty"), 1));
        }
        Ok(Self {
            chars: input.chars().collect(),
            pos: 0,
            peeked: None,
            limits,
            depth: 0,
            terms: 0,
            what,
        })
    }

    // ---- lexer -------------------------------------------------------------------------------

    fn skip_whitespace(&mut self) {
        while self.chars.get(self.pos).copied().is_some_and(is_whitespace) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.chars.get(self.pos).copied().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn lex(&mut self) -> Result<Token, FilterError> {
        self.skip_whitespace();
        let col = self.pos + 1;
        let Some(&c) = self.chars.get(self.pos) else {
            return Ok(Token { tok: Tok::End, col });
        };
        let tok = match c {
            '(' | ')' | '[' | ']' => {
                self.pos += 1;
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                }
            }
            '"' => Tok::Str(self.lex_string()?),
            c if is_word_char(c) => Tok::Word(self.take_while(is_word_char)),
            c => {
                return Err(FilterError::new(
                    format!("unexpected character '{}'", c.escape_debug()),
                    col,
                ));
            }
        };
        Ok(Token { tok, col })
    }

    fn peek(&mut self) -> Result<&Token, FilterError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex()?);
        }
        // Filled just above; the `Err` arm is unreachable but keeps this free of `unwrap`.
        self.peeked
            .as_ref()
            .ok_or_else(|| FilterError::new("internal lexer error", self.pos + 1))
    }

    fn next(&mut self) -> Result<Token, FilterError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    /// Reads a JSON string literal; `self.pos` is at the opening quote.
    fn lex_string(&mut self) -> Result<String, FilterError> {
        let open_col = self.pos + 1;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return Err(FilterError::new("unterminated string", open_col));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => out.push(self.lex_escape(open_col)?),
                c if c < ' ' => {
                    return Err(FilterError::new(
                        format!(
                            "control character U+{:04X} must be escaped in a string",
                            c as u32
                        ),
                        self.pos + 1,
                    ));
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Reads one escape sequence; `self.pos` is at the backslash.
    fn lex_escape(&mut self, open_col: usize) -> Result<char, FilterError> {
        let esc_col = self.pos + 1;
        self.pos += 1;
        let Some(&c) = self.chars.get(self.pos) else {
            return Err(FilterError::new("unterminated string", open_col));
        };
        self.pos += 1;
        let decoded = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.lex_unicode_escape(esc_col),
            c => {
                return Err(FilterError::new(
                    format!("invalid escape '\\{}' in string", c.escape_debug()),
                    esc_col,
                ));
            }
        };
        Ok(decoded)
    }

    /// Decodes `\uXXXX` (and a following low surrogate); `self.pos` is after the `u`.
    fn lex_unicode_escape(&mut self, esc_col: usize) -> Result<char, FilterError> {
        let unpaired = || FilterError::new("unpaired surrogate in '\\u' escape", esc_col);
        let high = self.hex4(esc_col)?;
        let code = match high {
            0xD800..=0xDBFF => {
                let has_low = self.chars.get(self.pos) == Some(&'\\')
                    && self.chars.get(self.pos + 1) == Some(&'u');
                if !has_low {
                    return Err(unpaired());
                }
                self.pos += 2;
                let low = self.hex4(esc_col)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(unpaired());
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(unpaired()),
            _ => high,
        };
        char::from_u32(code).ok_or_else(unpaired)
    }

    fn hex4(&mut self, esc_col: usize) -> Result<u32, FilterError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .chars
                .get(self.pos)
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| {
                    FilterError::new("invalid '\\u' escape: expected 4 hex digits", esc_col)
                })?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }

    /// Reads the value after a comparison operator. Values are lexed separately from other tokens
    /// because legacy unquoted values (`id eq 54D382A4-…`, `externalId eq a@b.c`) may contain
    /// characters that are not word characters.
    fn read_value(&mut self, op: &str) -> Result<CompValue, FilterError> {
        debug_assert!(
            self.peeked.is_none(),
            "value lexing needs an empty look-ahead"
        );
        self.skip_whitespace();
        let col = self.pos + 1;
        let expected = format!("expected a value after '{op}'");
        match self.chars.get(self.pos).copied() {
            None => Err(FilterError::new(
                format!("{expected}, found end of input"),
                col,
            )),
            Some('"') => Ok(CompValue::Str(self.lex_string()?)),
            Some(c) if is_delimiter(c) => {
                Err(FilterError::new(format!("{expected}, found '{c}'"), col))
            }
            Some(_) => {
                let word = self.take_while(|c| !is_whitespace(c) && !is_delimiter(c));
                classify_bare_value(word, &expected, col)
            }
        }
    }

    // ---- grammar -----------------------------------------------------------------------------

    /// `filter = and *("or" and)`. `parent` is the attribute of the enclosing `[…]`, if any.
    fn parse_or(&mut self, parent: Option<&str>) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(parent)?;
        while self.peek_is_keyword("or")? {
            self.next()?;
            let right = self.parse_and(parent)?;
            left = Filter::or(left, right);
        }
        Ok(left)
    }

    /// `and = unary *("and" unary)`.
    fn parse_and(&mut self, parent: Option<&str>) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(parent)?;
        while self.peek_is_keyword("and")? {
            self.next()?;
            let right = self.parse_unary(parent)?;
            left = Filter::and(left, right);
        }
        Ok(left)
    }

    fn peek_is_keyword(&mut self, keyword: &str) -> Result<bool, FilterError> {
        Ok(matches!(&self.peek()?.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword)))
    }

    /// `unary = "(" filter ")" / "not" "(" filter ")" / attrExpr`.
    fn parse_unary(&mut self, parent: Option<&str>) -> Result<Filter, FilterError> {
        let token = self.next()?;
        match token.tok {
            Tok::LParen => self.parenthesised(token.col, parent),
            Tok::Word(word) if word.eq_ignore_ascii_case("not") => {
                let open = self.next()?;
                if open.tok != Tok::LParen {
                    return Err(FilterError::new(
                        format!("expected '(' after '{word}', found {}", open.tok.describe()),
                        open.col,
                    ));
                }
                Ok(Filter::not(self.parenthesised(open.col, parent)?))
            }
            Tok::Word(word) => self.attr_expression(&word, token.col, parent),
            tok => Err(FilterError::new(
                format!(
                    "expected an attribute name, '(' or 'not', found {}",
                    tok.describe()
                ),
                token.col,
            )),
        }
    }

    /// The rest of `( filter )` after the `(` at `open_col`.
    fn parenthesised(
        &mut self,
        open_col: usize,
        parent: Option<&str>,
    ) -> Result<Filter, FilterError> {
        self.enter(open_col)?;
        let inner = self.parse_or(parent)?;
        self.close(&Tok::RParen, open_col)?;
        self.depth -= 1;
        Ok(inner)
    }

    fn enter(&mut self, col: usize) -> Result<(), FilterError> {
        let max = self.limits.max_depth.min(DEPTH_CAP);
        self.depth += 1;
        if self.depth > max {
            return Err(FilterError::new(
                format!("{} is nested more than {max} levels deep", self.what),
                col,
            ));
        }
        Ok(())
    }

    fn close(&mut self, closing: &Tok, open_col: usize) -> Result<(), FilterError> {
        let token = self.next()?;
        if &token.tok == closing {
            return Ok(());
        }
        let (open, close) = if *closing == Tok::RParen {
            ('(', ')')
        } else {
            ('[', ']')
        };
        Err(FilterError::new(
            format!(
                "expected '{close}' to close the '{open}' at column {open_col}, found {}",
                token.tok.describe()
            ),
            token.col,
        ))
    }

    fn expect_end(&mut self) -> Result<(), FilterError> {
        let token = self.next()?;
        let message = match &token.tok {
            Tok::End => return Ok(()),
            Tok::RParen => "unmatched ')'".to_owned(),
            Tok::RBracket => "unmatched ']'".to_owned(),
            tok => format!("unexpected trailing input {}", tok.describe()),
        };
        Err(FilterError::new(message, token.col))
    }

    /// `attrPath pr`, `attrPath op value` or `attrPath "[" filter "]" ["." sub (pr / op value)]`.
    fn attr_expression(
        &mut self,
        word: &str,
        col: usize,
        parent: Option<&str>,
    ) -> Result<Filter, FilterError> {
        let path = self.attr_path(word, col, parent)?;
        if self.peek()?.tok != Tok::LBracket {
            return self.operator_tail(path, word, col);
        }
        let open = self.next()?;
        if let Some(parent) = parent {
            return Err(FilterError::new(
                format!("value filters cannot be nested ('{word}[' inside '{parent}[…]')"),
                open.col,
            ));
        }
        let inner = self.value_filter(&path, word, open.col)?;
        match self.trailing_sub()? {
            // Entra sends `emails[type eq "work"].value eq "x"`, which is not RFC 7644 grammar; it
            // means "one work email whose value is x", i.e. `emails[type eq "work" and value eq "x"]`.
            Some((sub, sub_col)) => {
                let written = format!("{word}[…].{sub}");
                let term = self.operator_tail(AttrPath::name(sub), &written, sub_col)?;
                Ok(Filter::value_path(path, Filter::and(inner, term)))
            }
            None => Ok(Filter::value_path(path, inner)),
        }
    }

    /// The filter inside `attr[…]`, after the `[` at `open_col`, including the closing `]`.
    fn value_filter(
        &mut self,
        path: &AttrPath,
        word: &str,
        open_col: usize,
    ) -> Result<Filter, FilterError> {
        if path.sub.is_some() {
            return Err(FilterError::new(
                format!("'[' cannot follow the sub-attribute in '{word}'"),
                open_col,
            ));
        }
        self.enter(open_col)?;
        let inner = self.parse_or(Some(&path.attr))?;
        self.close(&Tok::RBracket, open_col)?;
        self.depth -= 1;
        Ok(inner)
    }

    /// An optional `.sub` right after `]`; returns the name and its column.
    fn trailing_sub(&mut self) -> Result<Option<(String, usize)>, FilterError> {
        let starts_with_dot = matches!(&self.peek()?.tok, Tok::Word(w) if w.starts_with('.'));
        if !starts_with_dot {
            return Ok(None);
        }
        let token = self.next()?;
        let Tok::Word(word) = token.tok else {
            return Ok(None);
        };
        let name = &word[1..];
        if name.is_empty() {
            return Err(FilterError::new(
                "missing sub-attribute name after '.'",
                token.col + 1,
            ));
        }
        if !is_attr_name(name) {
            return Err(FilterError::new(
                format!("invalid sub-attribute name '{name}'"),
                token.col + 1,
            ));
        }
        Ok(Some((name.to_owned(), token.col + 1)))
    }

    /// `pr` or `op value` after the attribute path `written` (which started at `col`).
    fn operator_tail(
        &mut self,
        path: AttrPath,
        written: &str,
        col: usize,
    ) -> Result<Filter, FilterError> {
        let token = self.next()?;
        let Tok::Word(op) = &token.tok else {
            return Err(FilterError::new(
                format!(
                    "expected an operator after '{written}', found {}",
                    token.tok.describe()
                ),
                token.col,
            ));
        };
        let filter = if op.eq_ignore_ascii_case("pr") {
            Filter::Present(path)
        } else if let Some(compare) = CompareOp::from_keyword(op) {
            let value = self.read_value(op)?;
            Filter::Compare(path, compare, value)
        } else {
            return Err(FilterError::new(
                format!("unknown operator '{}'", shorten(op)),
                token.col,
            ));
        };
        self.terms += 1;
        let max = self.limits.max_terms.min(TERMS_CAP);
        if self.terms > max {
            return Err(FilterError::new(
                format!("{} has more than {max} comparisons", self.what),
                col,
            ));
        }
        Ok(filter)
    }

    /// Splits a word into `[urn ":"] attr ["." sub]`. The URN ends at the last `:` (URNs contain
    /// dots, as in `2.0`, so the sub-attribute is only looked for after it).
    fn attr_path(
        &self,
        word: &str,
        col: usize,
        parent: Option<&str>,
    ) -> Result<AttrPath, FilterError> {
        if is_logical_keyword(word) {
            return Err(FilterError::new(
                format!("expected an attribute name, found keyword '{word}'"),
                col,
            ));
        }
        // Words are ASCII, so byte offsets are character offsets.
        let (urn, rest, rest_col) = match word.rfind(':') {
            Some(0) => return Err(FilterError::new("missing schema URN before ':'", col)),
            Some(i) => (Some(&word[..i]), &word[i + 1..], col + i + 1),
            None => (None, word, col),
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub)),
            None => (rest, None),
        };
        check_name(attr, "attribute", word, rest_col)?;
        if let Some(sub) = sub {
            check_name(sub, "sub-attribute", word, rest_col + attr.len() + 1)?;
        }
        if let Some(parent) = parent
            && (urn.is_some() || sub.is_some())
        {
            return Err(FilterError::new(
                format!("'{word}' inside '{parent}[…]' must be a sub-attribute name of '{parent}'"),
                col,
            ));
        }
        Ok(AttrPath {
            urn: urn.map(str::to_owned),
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }
}

fn check_name(name: &str, what: &str, word: &str, col: usize) -> Result<(), FilterError> {
    if name.is_empty() {
        return Err(FilterError::new(
            format!("missing {what} name in '{}'", shorten(word)),
            col,
        ));
    }
    if !is_attr_name(name) {
        return Err(FilterError::new(
            format!("invalid {what} name '{}'", shorten(name)),
            col,
        ));
    }
    Ok(())
}

/// Interprets an unquoted value: `true`/`false`/`null` (any case), a JSON number, or — for legacy
/// clients such as old Entra jobs — a bare string. Keywords are refused so that a missing value
/// (`userName eq and …`) is reported instead of silently becoming the string "and".
fn classify_bare_value(word: String, expected: &str, col: usize) -> Result<CompValue, FilterError> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "true" => return Ok(CompValue::Bool(true)),
        "false" => return Ok(CompValue::Bool(false)),
        "null" => return Ok(CompValue::Null),
        _ => {}
    }
    if is_logical_keyword(&lower) || lower == "pr" || CompareOp::from_keyword(&lower).is_some() {
        return Err(FilterError::new(
            format!("{expected}, found keyword '{word}'"),
            col,
        ));
    }
    if is_json_number(&word) {
        return parse_number(&word).map(CompValue::Num).ok_or_else(|| {
            FilterError::new(format!("number '{}' is out of range", shorten(&word)), col)
        });
    }
    Ok(CompValue::Str(word))
}

/// Converts text that matches the JSON number grammar. Integers that fit stay exact; everything
/// else goes through Rust's correctly rounded `f64` parser (serde_json's default float parser may
/// be one ULP off, which would break the canonical-form round trip).
fn parse_number(text: &str) -> Option<serde_json::Number> {
    let integral = !text.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse(input: &str) -> Result<Filter, FilterError> {
        parse_filter(input, &FilterLimits::default())
    }

    fn canonical(input: &str) -> String {
        match parse(input) {
            Ok(filter) => filter.to_string(),
            Err(err) => panic!("{input:?} failed to parse: {err}"),
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare(path, op, value)
    }

    fn s(value: &str) -> CompValue {
        CompValue::Str(value.into())
    }

    #[test]
    fn rfc_7644_examples_parse_to_their_canonical_form() {
        // Every example filter of RFC 7644 §3.4.2.2 (Figure 2), with its canonical rendering.
        let cases = [
            (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
            (
                r#"name.familyName co "O'Malley""#,
                r#"name.familyName co "O'Malley""#,
            ),
            (r#"userName sw "J""#, r#"userName sw "J""#),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            ),
            ("title pr", "title pr"),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            ),
            (
                r#"title pr and userType eq "Employee""#,
                r#"title pr and userType eq "Employee""#,
            ),
            (
                r#"title pr or userType eq "Intern""#,
                r#"title pr or userType eq "Intern""#,
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                r#"userType eq "Employee" and emails.type eq "work""#,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            ),
            // Case-insensitive operators (RFC 7644 §3.4.2.2); names are kept as written.
            (r#"userName Eq "john""#, r#"userName eq "john""#),
            (r#"Username eq "john""#, r#"Username eq "john""#),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "input: {input}");
        }
    }

    #[test]
    fn entra_filters_parse() {
        let cases = [
            (
                r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
                r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
            ),
            (r#"externalId eq "8aa1a0c0""#, r#"externalId eq "8aa1a0c0""#),
            ("externalId eq jyoung", r#"externalId eq "jyoung""#),
            (
                "externalId eq jyoung@contoso.com",
                r#"externalId eq "jyoung@contoso.com""#,
            ),
            (
                r#"emails[type eq "work"].value eq "user@contoso.com""#,
                r#"emails[type eq "work" and value eq "user@contoso.com"]"#,
            ),
            (
                r#"emails[primary eq true].value eq "x""#,
                r#"emails[primary eq true and value eq "x"]"#,
            ),
            (
                r#"emails[type eq "work"].value pr"#,
                r#"emails[type eq "work" and value pr]"#,
            ),
            (
                "id eq 54D382A4-2050-4C03-94D1-E769F1D15682 and manager eq 2819c223-7f76-453a-919d-413861904646",
                r#"id eq "54D382A4-2050-4C03-94D1-E769F1D15682" and manager eq "2819c223-7f76-453a-919d-413861904646""#,
            ),
            ("ID eq 54D382A4", r#"ID eq "54D382A4""#),
            (r#"members[value eq "u"]"#, r#"members[value eq "u"]"#),
            (
                r#"id eq "g" and members eq "u""#,
                r#"id eq "g" and members eq "u""#,
            ),
            (
                r#"displayName eq "displayName""#,
                r#"displayName eq "displayName""#,
            ),
            (r#"roles[primary eq "True"]"#, r#"roles[primary eq "True"]"#),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "input: {input}");
        }
    }

    #[test]
    fn entra_value_path_with_trailing_sub_attribute_is_desugared() {
        let filter = parse(r#"emails[type eq "work"].value eq "x""#).unwrap();
        let expected = Filter::value_path(
            AttrPath::name("emails"),
            Filter::and(
                cmp(AttrPath::name("type"), CompareOp::Eq, s("work")),
                cmp(AttrPath::name("value"), CompareOp::Eq, s("x")),
            ),
        );
        assert_eq!(filter, expected);
    }

    #[test]
    fn other_valid_forms() {
        let cases = [
            // `and` binds tighter than `or`.
            ("a eq 1 or b eq 2 and c eq 3", "a eq 1 or b eq 2 and c eq 3"),
            (
                "(a eq 1 or b eq 2) and c eq 3",
                "(a eq 1 or b eq 2) and c eq 3",
            ),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("not(a pr)", "not (a pr)"),
            ("not (a pr)", "not (a pr)"),
            ("NOT  (a pr)", "not (a pr)"),
            ("not(not(a pr))", "not (not (a pr))"),
            ("((a pr))", "a pr"),
            ("a pr AND b pr Or c pr", "a pr and b pr or c pr"),
            ("a EQ TRUE", "a eq true"),
            ("a eq False", "a eq false"),
            ("a ne NULL", "a ne null"),
            ("a gt -1.5e3", "a gt -1500.0"),
            ("a lt 0", "a lt 0"),
            ("a le 007", r#"a le "007""#),
            ("  userName\teq\n\"x\"\r\n ", r#"userName eq "x""#),
            ("(userName eq bjensen)", r#"userName eq "bjensen""#),
            ("emails[value eq x]", r#"emails[value eq "x"]"#),
            (
                "emails[not (type eq \"work\")]",
                r#"emails[not (type eq "work")]"#,
            ),
            (
                "emails[(type eq \"a\" or type eq \"b\") and primary eq true]",
                r#"emails[(type eq "a" or type eq "b") and primary eq true]"#,
            ),
            ("members.$ref pr", "members.$ref pr"),
            ("members[$ref pr]", "members[$ref pr]"),
            ("x-y_z eq 1", "x-y_z eq 1"),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#,
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
                r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "input: {input}");
        }
    }

    #[test]
    fn precedence_builds_the_right_tree() {
        let a = cmp(AttrPath::name("a"), CompareOp::Eq, CompValue::Num(1.into()));
        let b = cmp(AttrPath::name("b"), CompareOp::Eq, CompValue::Num(2.into()));
        let c = cmp(AttrPath::name("c"), CompareOp::Eq, CompValue::Num(3.into()));
        assert_eq!(
            parse("a eq 1 or b eq 2 and c eq 3").unwrap(),
            Filter::or(a.clone(), Filter::and(b.clone(), c.clone()))
        );
        assert_eq!(
            parse("a eq 1 and b eq 2 or c eq 3").unwrap(),
            Filter::or(Filter::and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a eq 1 and b eq 2 and c eq 3").unwrap(),
            Filter::and(Filter::and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a eq 1 and not (b eq 2 or c eq 3)").unwrap(),
            Filter::and(a, Filter::not(Filter::or(b, c)))
        );
    }

    #[test]
    fn urn_qualified_names_split_at_the_last_colon() {
        let filter =
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "B""#).unwrap();
        let path = AttrPath {
            urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
            attr: "name".into(),
            sub: Some("givenName".into()),
        };
        assert_eq!(filter, cmp(path, CompareOp::Eq, s("B")));
    }

    #[test]
    fn json_strings_and_numbers_are_decoded() {
        let filter = parse(r#"a eq "\u00e9\"\\\/\b\f\n\r\t\ud83d\ude00 é""#).unwrap();
        assert_eq!(
            filter,
            cmp(
                AttrPath::name("a"),
                CompareOp::Eq,
                s("é\"\\/\u{8}\u{c}\n\r\t😀 é")
            )
        );
        let number = |input: &str| match parse(input).unwrap() {
            Filter::Compare(_, _, CompValue::Num(n)) => n,
            other => panic!("not a number: {other:?}"),
        };
        assert_eq!(number("a eq 42").as_u64(), Some(42));
        assert_eq!(number("a eq -42").as_i64(), Some(-42));
        assert_eq!(number("a eq 1.25E2").as_f64(), Some(125.0));
        assert_eq!(number("a eq 0.5").as_f64(), Some(0.5));
    }

    #[test]
    fn invalid_filters_report_what_and_where() {
        let cases = [
            (
                "userName eq",
                "expected a value after 'eq', found end of input",
                12,
            ),
            (
                "userName EQ ",
                "expected a value after 'EQ', found end of input",
                13,
            ),
            (
                "userName",
                "expected an operator after 'userName', found end of input",
                9,
            ),
            (r#"userName xx "a""#, "unknown operator 'xx'", 10),
            (r#"userName eq "abc"#, "unterminated string", 13),
            (
                r#"userName eq "a\qb""#,
                "invalid escape '\\q' in string",
                15,
            ),
            (
                r#"userName eq "\ud800""#,
                "unpaired surrogate in '\\u' escape",
                14,
            ),
            (
                r#"userName eq "\udc00""#,
                "unpaired surrogate in '\\u' escape",
                14,
            ),
            (
                r#"userName eq "\u12G4""#,
                "invalid '\\u' escape: expected 4 hex digits",
                14,
            ),
            (
                "userName eq \"a\nb\"",
                "control character U+000A must be escaped in a string",
                15,
            ),
            (
                r#"emails[type eq "work""#,
                "expected ']' to close the '[' at column 7, found end of input",
                22,
            ),
            (
                r#"emails[type eq "work") "#,
                "expected ']' to close the '[' at column 7, found ')'",
                22,
            ),
            (
                "(userName pr",
                "expected ')' to close the '(' at column 1, found end of input",
                13,
            ),
            (
                "(userName pr]",
                "expected ')' to close the '(' at column 1, found ']'",
                13,
            ),
            ("userName pr)", "unmatched ')'", 12),
            ("userName pr]", "unmatched ']'", 12),
            (
                r#"userName eq "x" extra"#,
                "unexpected trailing input 'extra'",
                17,
            ),
            (
                r#"userName eq "x" "y""#,
                "unexpected trailing input string \"y\"",
                17,
            ),
            ("", "filter is empty", 1),
            (" \t ", "filter is empty", 1),
            (
                "not userName pr",
                "expected '(' after 'not', found 'userName'",
                5,
            ),
            (
                r#"userName eq "x" and"#,
                "expected an attribute name, '(' or 'not', found end of input",
                20,
            ),
            (
                r#"userName eq "x" and or b pr"#,
                "expected an attribute name, found keyword 'or'",
                21,
            ),
            (
                "[a pr]",
                "expected an attribute name, '(' or 'not', found '['",
                1,
            ),
            ("user@name eq 1", "unexpected character '@'", 5),
            (r#"userName = "x""#, "unexpected character '='", 10),
            (
                "userName eq and",
                "expected a value after 'eq', found keyword 'and'",
                13,
            ),
            (
                "userName eq )",
                "expected a value after 'eq', found ')'",
                13,
            ),
            ("a eq 1e999", "number '1e999' is out of range", 6),
            (
                r#"emails[type[value eq 1] eq 2]"#,
                "value filters cannot be nested ('type[' inside 'emails[…]')",
                12,
            ),
            (
                "emails[value.x eq 1]",
                "'value.x' inside 'emails[…]' must be a sub-attribute name of 'emails'",
                8,
            ),
            (
                "emails[urn:x:value eq 1]",
                "'urn:x:value' inside 'emails[…]' must be a sub-attribute name of 'emails'",
                8,
            ),
            (
                "name.givenName[x eq 1]",
                "'[' cannot follow the sub-attribute in 'name.givenName'",
                15,
            ),
            (
                r#"emails[type eq "work"]. eq 1"#,
                "missing sub-attribute name after '.'",
                24,
            ),
            (
                r#"emails[type eq "work"].value"#,
                "expected an operator after 'emails[…].value', found end of input",
                29,
            ),
            (
                r#"emails[type eq "work"].1x eq 1"#,
                "invalid sub-attribute name '1x'",
                24,
            ),
            ("1abc eq 1", "invalid attribute name '1abc'", 1),
            (":userName eq 1", "missing schema URN before ':'", 1),
            ("urn:x: eq 1", "missing attribute name in 'urn:x:'", 7),
            ("a.b.c eq 1", "invalid sub-attribute name 'b.c'", 3),
            ("a. eq 1", "missing sub-attribute name in 'a.'", 3),
        ];
        for (input, message, column) in cases {
            match parse(input) {
                Ok(filter) => panic!("{input:?} parsed as {filter}"),
                Err(err) => assert_eq!(
                    (err.message.as_str(), err.column),
                    (message, column),
                    "input: {input:?}"
                ),
            }
        }
    }

    #[test]
    fn error_display_and_scim_mapping() {
        let err = parse("userName eq").unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a value after 'eq', found end of input at column 12"
        );
        let scim: ScimError = err.clone().into();
        assert_eq!(scim.scim_type, Some(crate::error::ScimType::InvalidFilter));
        assert_eq!(scim.status, 400);
        assert!(scim.detail.contains("at column 12"), "{}", scim.detail);
        let path = err.into_invalid_path();
        assert_eq!(path.scim_type, Some(crate::error::ScimType::InvalidPath));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let unlimited_length = FilterLimits {
            max_length: usize::MAX,
            ..FilterLimits::default()
        };
        let huge = "(".repeat(100_000);
        let err = parse_filter(&huge, &unlimited_length).unwrap_err();
        assert_eq!(
            (err.message.as_str(), err.column),
            ("filter is nested more than 32 levels deep", 33)
        );
        let nots = "not (".repeat(100_000);
        assert!(parse_filter(&nots, &unlimited_length).is_err());
        let brackets = format!("a[{}", "(".repeat(100_000));
        assert!(parse_filter(&brackets, &unlimited_length).is_err());
        // Absurd configured limits are clamped rather than trusted.
        let absurd = FilterLimits {
            max_length: usize::MAX,
            max_depth: usize::MAX,
            max_terms: usize::MAX,
        };
        let err = parse_filter(&huge, &absurd).unwrap_err();
        assert_eq!(err.message, "filter is nested more than 64 levels deep");
        // With default limits the length check already refuses it.
        let err = parse(&huge).unwrap_err();
        assert_eq!(
            (err.message.as_str(), err.column),
            ("filter is longer than 4096 bytes", 4097)
        );
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let ok = format!("{}a pr{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(canonical(&ok), "a pr");
        let too_deep = format!("{}a pr{}", "(".repeat(33), ")".repeat(33));
        assert_eq!(parse(&too_deep).unwrap_err().column, 33);
    }

    #[test]
    fn term_limit() {
        let at_limit = vec!["a pr"; 256].join(" and ");
        assert!(parse(&at_limit).is_ok());
        let over = vec!["a pr"; 257].join(" or ");
        let err = parse(&over).unwrap_err();
        assert_eq!(err.message, "filter has more than 256 comparisons");
        assert_eq!(err.column, 256 * 8 + 1);
    }

    #[test]
    fn long_inputs() {
        let long_value = format!("userName eq \"{}\"", "x".repeat(4000));
        assert!(parse(&long_value).is_ok());
        let too_long = format!("userName eq \"{}\"", "é".repeat(4000));
        let err = parse(&too_long).unwrap_err();
        assert_eq!(err.message, "filter is longer than 4096 bytes");
        // 13 ASCII characters, then 2041 two-byte ones fit; the 2042nd straddles the limit.
        assert_eq!(err.column, 13 + 2041 + 1);
        let custom = FilterLimits {
            max_length: 10,
            ..FilterLimits::default()
        };
        assert!(parse_filter("userName pr", &custom).is_err());
    }

    #[test]
    fn patch_paths() {
        let limits = FilterLimits::default();
        let cases = [
            ("members", "members"),
            ("name.givenName", "name.givenName"),
            (" displayName ", "displayName"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            ),
            (r#"emails[type eq "work"]"#, r#"emails[type eq "work"]"#),
            (
                r#"emails[type eq "work"].value"#,
                r#"emails[type eq "work"].value"#,
            ),
            (
                r#"addresses[type eq "work"].streetAddress"#,
                r#"addresses[type eq "work"].streetAddress"#,
            ),
            (
                r#"members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]"#,
                r#"members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]"#,
            ),
            (r#"roles[primary eq "True"]"#, r#"roles[primary eq "True"]"#),
        ];
        for (input, expected) in cases {
            let path = parse_path(input, &limits).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(path.to_string(), expected);
            assert_eq!(parse_path(&path.to_string(), &limits).unwrap(), path);
        }
        let path = parse_path(r#"emails[type eq "work"].value"#, &limits).unwrap();
        assert_eq!(path.attr, AttrPath::name("emails"));
        assert_eq!(path.sub.as_deref(), Some("value"));
        let path = parse_path("name.givenName", &limits).unwrap();
        assert_eq!(
            (path.attr, path.filter, path.sub),
            (AttrPath::sub("name", "givenName"), None, None)
        );
    }

    #[test]
    fn invalid_patch_paths() {
        let limits = FilterLimits::default();
        let cases = [
            ("", "path is empty", 1),
            (
                "emails[",
                "expected an attribute name, '(' or 'not', found end of input",
                8,
            ),
            (
                r#"emails[type eq "work"] x"#,
                "unexpected trailing input 'x'",
                24,
            ),
            (
                "name.givenName[x eq 1]",
                "'[' cannot follow the sub-attribute in 'name.givenName'",
                15,
            ),
            (
                r#"emails[type eq "work"].value eq "x""#,
                "unexpected trailing input 'eq'",
                30,
            ),
            (r#"userName eq "x""#, "unexpected trailing input 'eq'", 10),
            (
                r#""userName""#,
                "expected an attribute name, found string \"userName\"",
                1,
            ),
        ];
        for (input, message, column) in cases {
            let err = parse_path(input, &limits).unwrap_err();
            assert_eq!(
                (err.message.as_str(), err.column),
                (message, column),
                "input: {input:?}"
            );
        }
    }

    // ---- round-trip property -----------------------------------------------------------------

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,8}".prop_filter("keywords are not attribute names", |n| {
                !is_logical_keyword(n)
            }),
            Just("$ref".to_owned()),
        ]
    }

    fn urn() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            3 => Just(None),
            1 => Just(Some(crate::schema::USER.to_owned())),
            1 => Just(Some(crate::schema::ENTERPRISE_USER.to_owned())),
            1 => "urn:[a-z]{1,5}(:[a-zA-Z0-9.]{1,5}){0,3}".prop_map(Some),
        ]
    }

    fn attr_path() -> impl Strategy<Value = AttrPath> {
        (urn(), name(), proptest::option::of(name())).prop_map(|(urn, attr, sub)| AttrPath {
            urn,
            attr,
            sub,
        })
    }

    fn value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            any::<String>().prop_map(CompValue::Str),
            any::<i64>().prop_map(|n| CompValue::Num(n.into())),
            any::<u64>().prop_map(|n| CompValue::Num(n.into())),
            any::<f64>()
                .prop_filter_map("finite", serde_json::Number::from_f64)
                .prop_map(CompValue::Num),
            any::<bool>().prop_map(CompValue::Bool),
            Just(CompValue::Null),
        ]
    }

    fn op() -> impl Strategy<Value = CompareOp> {
        proptest::sample::select(CompareOp::ALL.to_vec())
    }

    /// Filters whose paths are plain names: the contents of `[…]`.
    fn relative_filter() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            name().prop_map(|n| Filter::Present(AttrPath::name(n))),
            (name(), op(), value()).prop_map(|(n, op, v)| Filter::Compare(
                AttrPath::name(n),
                op,
                v
            )),
        ];
        combine(leaf.boxed(), 3)
    }

    fn combine(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
        leaf.prop_recursive(depth, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::and(l, r)),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::or(l, r)),
                inner.prop_map(Filter::not),
            ]
        })
        .boxed()
    }

    fn filter() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            attr_path().prop_map(Filter::Present),
            (attr_path(), op(), value()).prop_map(|(p, op, v)| Filter::Compare(p, op, v)),
            (urn(), name(), relative_filter()).prop_map(|(urn, attr, inner)| {
                Filter::value_path(
                    AttrPath {
                        urn,
                        attr,
                        sub: None,
                    },
                    inner,
                )
            }),
        ];
        combine(leaf.boxed(), 4)
    }

    fn patch_path() -> impl Strategy<Value = PatchPath> {
        prop_oneof![
            attr_path().prop_map(|attr| PatchPath {
                attr,
                filter: None,
                sub: None
            }),
            (
                urn(),
                name(),
                relative_filter(),
                proptest::option::of(name())
            )
                .prop_map(|(urn, attr, filter, sub)| PatchPath {
                    attr: AttrPath {
                        urn,
                        attr,
                        sub: None
                    },
                    filter: Some(filter),
                    sub,
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn display_then_parse_round_trips(f in filter()) {
            let text = f.to_string();
            let limits = FilterLimits { max_length: usize::MAX, ..FilterLimits::default() };
            let parsed = parse_filter(&text, &limits);
            prop_assert_eq!(parsed, Ok(f), "text: {}", text);
        }

        #[test]
        fn patch_path_display_then_parse_round_trips(p in patch_path()) {
            let text = p.to_string();
            let limits = FilterLimits { max_length: usize::MAX, ..FilterLimits::default() };
            prop_assert_eq!(parse_path(&text, &limits), Ok(p), "text: {}", text);
        }

        #[test]
        fn arbitrary_input_never_panics(input in "\\PC{0,200}") {
            let _ = parse(&input);
            let _ = parse_path(&input, &FilterLimits::default());
        }

        #[test]
        fn filter_like_input_never_panics(input in r#"[a-z.:\[\]() "\\]{0,120}"#) {
            let _ = parse(&input);
        }
    }
}
