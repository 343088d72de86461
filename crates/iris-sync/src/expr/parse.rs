//! Lexer and recursive-descent parser of Entra's attribute-mapping expressions:
//! `FunctionName(arg, …)`, `[attribute]`, `"string"` (backslash escapes `\"` and `\\`), integers,
//! empty arguments (`Switch([x], , "a", "b")`), and the comparisons IIF accepts (`=`, `<>`, `>`,
//! `>=`, `<`, `<=`). Every error carries the 1-based column (in characters) it refers to.

use std::fmt;

use super::functions::Function;

/// Limits that keep a hostile mapping file from exhausting the stack.
const MAX_DEPTH: usize = 64;
const MAX_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An argument left empty: `Switch([a], , …)`.
    Missing,
    Attribute(String),
    Str(String),
    Number(i64),
    Call {
        function: Function,
        args: Vec<Expr>,
    },
    Compare {
        op: Comparison,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

impl Expr {
    /// The source attributes the expression reads (lowercased), for change detection and docs.
    pub fn attributes(&self, out: &mut Vec<String>) {
        match self {
            Self::Attribute(a) => out.push(a.to_lowercase()),
            Self::Call { args, .. } => args.iter().for_each(|a| a.attributes(out)),
            Self::Compare { left, right, .. } => {
                left.attributes(out);
                right.attributes(out);
            }
            Self::Missing | Self::Str(_) | Self::Number(_) => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Attribute(String),
    Str(String),
    Number(i64),
    LParen,
    RParen,
    Comma,
    Cmp(Comparison),
    End,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn err(column: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            column,
            message: message.into(),
        }
    }

    /// The next token and the column it starts at.
    fn next(&mut self) -> Result<(Token, usize), ParseError> {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
        let start = self.pos;
        let column = start + 1;
        let Some(&c) = self.chars.get(self.pos) else {
            return Ok((Token::End, column));
        };
        self.pos += 1;
        let token = match c {
            '(' => Token::LParen,
            ')' => Token::RParen,
            ',' => Token::Comma,
            '=' => Token::Cmp(Comparison::Eq),
            '<' => match self.chars.get(self.pos) {
                Some('>') => {
                    self.pos += 1;
                    Token::Cmp(Comparison::Ne)
                }
                Some('=') => {
                    self.pos += 1;
                    Token::Cmp(Comparison::Le)
                }
                _ => Token::Cmp(Comparison::Lt),
            },
            '>' => {
                if self.chars.get(self.pos) == Some(&'=') {
                    self.pos += 1;
                    Token::Cmp(Comparison::Ge)
                } else {
                    Token::Cmp(Comparison::Gt)
                }
            }
            '[' => {
                let from = self.pos;
                while self.chars.get(self.pos).is_some_and(|c| *c != ']') {
                    self.pos += 1;
                }
                if self.pos >= self.chars.len() {
                    return Err(Self::err(column, "attribute name without a closing ']'"));
                }
                let name: String = self.chars[from..self.pos].iter().collect();
                self.pos += 1;
                let name = name.trim().to_owned();
                if name.is_empty() {
                    return Err(Self::err(column, "empty attribute name '[]'"));
                }
                Token::Attribute(name)
            }
            '"' => {
                let mut s = String::new();
                loop {
                    match self.chars.get(self.pos) {
                        None => return Err(Self::err(column, "string without a closing '\"'")),
                        Some('"') => {
                            self.pos += 1;
                            break;
                        }
                        Some('\\') => {
                            match self.chars.get(self.pos + 1) {
                                Some(&e @ ('"' | '\\')) => s.push(e),
                                // Any other escape is kept as written (regex patterns use them).
                                Some(&e) => {
                                    s.push('\\');
                                    s.push(e);
                                }
                                None => {
                                    return Err(Self::err(column, "string without a closing '\"'"));
                                }
                            }
                            self.pos += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            self.pos += 1;
                        }
                    }
                }
                Token::Str(s)
            }
            c if c.is_ascii_digit() || c == '-' => {
                while self.chars.get(self.pos).is_some_and(char::is_ascii_digit) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                let n = text
                    .parse()
                    .map_err(|_| Self::err(column, format!("not a number: {text}")))?;
                Token::Number(n)
            }
            c if c.is_alphabetic() || c == '_' => {
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    self.pos += 1;
                }
                Token::Ident(self.chars[start..self.pos].iter().collect())
            }
            other => return Err(Self::err(column, format!("unexpected character {other:?}"))),
        };
        Ok((token, column))
    }
}

struct Parser {
    lexer: Lexer,
    peeked: Option<(Token, usize)>,
}

impl Parser {
    fn peek(&mut self) -> Result<&(Token, usize), ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        // Set just above.
        Ok(self.peeked.as_ref().unwrap_or(&(Token::End, 0)))
    }

    fn bump(&mut self) -> Result<(Token, usize), ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next(),
        }
    }

    /// One argument or the whole expression: an operand, optionally compared to another.
    fn expression(&mut self, depth: usize, in_args: bool) -> Result<Expr, ParseError> {
        let left = self.operand(depth, in_args)?;
        if let (Token::Cmp(op), _) = self.peek()?.clone() {
            self.bump()?;
            let right = self.operand(depth, in_args)?;
            return Ok(Expr::Compare {
                op,
                left: Box::new(left),
                right: Box::new(right),
            });
        }
        Ok(left)
    }

    fn operand(&mut self, depth: usize, in_args: bool) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            let column = self.peek()?.1;
            return Err(Lexer::err(column, "expression nested too deeply"));
        }
        let (token, column) = self.peek()?.clone();
        match token {
            Token::Comma | Token::RParen if in_args => Ok(Expr::Missing),
            _ => {
                self.bump()?;
                match token {
                    Token::Attribute(a) => Ok(Expr::Attribute(a)),
                    Token::Str(s) => Ok(Expr::Str(s)),
                    Token::Number(n) => Ok(Expr::Number(n)),
                    Token::Ident(name) => self.call(&name, column, depth),
                    Token::End => Err(Lexer::err(column, "expression ends too early")),
                    other => Err(Lexer::err(
                        column,
                        format!("unexpected {}", describe(&other)),
                    )),
                }
            }
        }
    }

    fn call(&mut self, name: &str, column: usize, depth: usize) -> Result<Expr, ParseError> {
        let function = Function::from_name(name).ok_or_else(|| {
            Lexer::err(
                column,
                format!("unknown function {name} (names are case-sensitive)"),
            )
        })?;
        match self.bump()? {
            (Token::LParen, _) => {}
            (other, c) => {
                return Err(Lexer::err(
                    c,
                    format!("expected '(' after {name}, found {}", describe(&other)),
                ));
            }
        }
        let mut args = Vec::new();
        if matches!(self.peek()?.0, Token::RParen) {
            self.bump()?;
        } else {
            loop {
                args.push(self.expression(depth + 1, true)?);
                match self.bump()? {
                    (Token::Comma, _) => {}
                    (Token::RParen, _) => break,
                    (other, c) => {
                        return Err(Lexer::err(
                            c,
                            format!(
                                "expected ',' or ')' in {name}(…), found {}",
                                describe(&other)
                            ),
                        ));
                    }
                }
            }
        }
        let (min, max) = function.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            let expected = match max {
                Some(m) if m == min => format!("{min}"),
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            };
            return Err(Lexer::err(
                column,
                format!("{name} takes {expected} arguments, {} given", args.len()),
            ));
        }
        function
            .check_args(&args)
            .map_err(|m| Lexer::err(column, m))?;
        Ok(Expr::Call { function, args })
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(s) => format!("name {s}"),
        Token::Attribute(a) => format!("attribute [{a}]"),
        Token::Str(s) => format!("string {s:?}"),
        Token::Number(n) => format!("number {n}"),
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::Comma => "','".into(),
        Token::Cmp(_) => "a comparison".into(),
        Token::End => "the end of the expression".into(),
    }
}

/// Parses one expression (the whole text).
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    if text.len() > MAX_LEN {
        return Err(Lexer::err(1, "expression longer than 64 KiB"));
    }
    let mut parser = Parser {
        lexer: Lexer {
            chars: text.chars().collect(),
            pos: 0,
        },
        peeked: None,
    };
    let expr = parser.expression(0, false)?;
    match parser.bump()? {
        (Token::End, _) => Ok(expr),
        (other, column) => Err(Lexer::err(
            column,
            format!("unexpected {} after the expression", describe(&other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_active_expression_parses_with_its_empty_default() {
        let e = parse(r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#).unwrap();
        let Expr::Call { function, args } = e else {
            panic!("not a call")
        };
        assert_eq!(function, Function::Switch);
        assert_eq!(args[1], Expr::Missing);
        assert_eq!(args.len(), 6);
    }

    #[test]
    fn string_escapes_follow_microsofts_rules() {
        assert_eq!(
            parse(r#""Company name: \"Contoso\"""#).unwrap(),
            Expr::Str("Company name: \"Contoso\"".into())
        );
        assert_eq!(parse(r#""a\\b""#).unwrap(), Expr::Str("a\\b".into()));
        assert_eq!(parse(r#""\d+""#).unwrap(), Expr::Str("\\d+".into()));
    }

    #[test]
    fn comparisons_parse_inside_iif() {
        let e = parse(r#"IIF([country]="USA",[country],[department])"#).unwrap();
        let Expr::Call { args, .. } = e else { panic!() };
        assert!(matches!(
            args[0],
            Expr::Compare {
                op: Comparison::Eq,
                ..
            }
        ));
        assert!(parse(r#"IIF([a]<>"b","x","y")"#).is_ok());
        assert!(parse(r#"IIF([a]>=2,"x","y")"#).is_ok());
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            (r#"Join(" ", [a], [b]"#, 19, "expected ',' or ')'"),
            (r#"Jion(" ", [a])"#, 1, "unknown function Jion"),
            (r#"ToLower([a]) x"#, 14, "unexpected name x"),
            (r#"Append([a], "x)"#, 13, "closing '\"'"),
            (r#"Left([a])"#, 1, "Left takes 2 arguments, 1 given"),
            (r#"Not([a], [b])"#, 1, "Not takes 1 arguments"),
            (r#"Switch([a], "d", "k", "v", "k2")"#, 1, "pairs"),
            (r#"  [unclosed"#, 3, "closing ']'"),
            (r#"toLower([a])"#, 1, "case-sensitive"),
            (r#""#, 1, "ends too early"),
            (r#"Append([a] "x")"#, 12, "expected ',' or ')'"),
        ];
        for (text, column, message) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.column, column, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let text = format!("{}[a]{}", "ToLower(".repeat(200), ")".repeat(200));
        assert!(parse(&text).unwrap_err().message.contains("too deeply"));
    }
}
