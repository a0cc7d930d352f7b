//! Splits SOQL text into tokens, each with its row and column.

use super::{ErrorKind, Pos, SoqlError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A name or keyword (keywords are recognised by the parser).
    Word(String),
    /// A quoted string, escapes resolved (`\%` and `\_` kept for LIKE).
    Str(String),
    /// A number, date or datetime, as written.
    Literal(String),
    /// Punctuation and operators: `( ) , : = != <> < <= > >=`.
    Sym(&'static str),
    Eof,
}

impl Tok {
    /// How the token is named in "unexpected token" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) | Tok::Literal(w) => w.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Sym(s) => (*s).to_string(),
            Tok::Eof => "<EOF>".into(),
        }
    }
}

pub(super) fn tokenize(src: &str) -> Result<Vec<(Tok, Pos)>, SoqlError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut row, mut col) = (0usize, 1usize, 1usize);
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { row, col };
        if c == '\n' {
            i += 1;
            row += 1;
            col = 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            col += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            out.push((Tok::Word(chars[start..i].iter().collect()), pos));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            i += 1;
            // Dates and datetimes (2025-03-30T17:57:34.000+01:00) run together
            // with digits, so one loose run is read and classified later.
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | ':' | '-' | '+'))
            {
                i += 1;
            }
            out.push((Tok::Literal(chars[start..i].iter().collect()), pos));
        } else if c == '\'' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(SoqlError::new(
                            ErrorKind::Malformed,
                            pos,
                            "unexpected token: <EOF>",
                        ));
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let esc = chars.get(i + 1).copied();
                        let resolved = match esc {
                            Some('n') => "\n".to_string(),
                            Some('r') => "\r".to_string(),
                            Some('t') => "\t".to_string(),
                            Some('b') => "\u{8}".to_string(),
                            Some('f') => "\u{c}".to_string(),
                            Some('"') => "\"".to_string(),
                            Some('\'') => "'".to_string(),
                            Some('\\') => "\\\\".to_string(),
                            Some('%') => "\\%".to_string(),
                            Some('_') => "\\_".to_string(),
                            _ => {
                                let text: String =
                                    chars[start..(i + 2).min(chars.len())].iter().collect();
                                return Err(SoqlError::new(
                                    ErrorKind::Malformed,
                                    pos,
                                    format!("Invalid string literal '{text}'. Illegal character sequence '\\{}' in string literal.", esc.unwrap_or(' ')),
                                ));
                            }
                        };
                        s.push_str(&resolved);
                        i += 2;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(unescape_backslashes(&s)), pos));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = match two.as_str() {
                "!=" => Some("!="),
                "<>" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = sym {
                i += 2;
                out.push((Tok::Sym(s), pos));
            } else {
                let s = match c {
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    ':' => ":",
                    '=' => "=",
                    '<' => "<",
                    '>' => ">",
                    _ => {
                        return Err(SoqlError::new(
                            ErrorKind::Malformed,
                            pos,
                            format!("unexpected token: {c}"),
                        ))
                    }
                };
                i += 1;
                out.push((Tok::Sym(s), pos));
            }
        }
        col += i - start;
    }
    out.push((Tok::Eof, Pos { row, col }));
    Ok(out)
}

/// `\\` stays doubled while escapes are read (so `\\%` is not taken for `\%`);
/// here it becomes one backslash again, unless it protects a LIKE wildcard.
fn unescape_backslashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'\\') {
            chars.next();
            out.push('\\');
            // A literal backslash must not escape a following wildcard.
            if matches!(chars.peek(), Some('%') | Some('_')) {
                out.push('\\');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn words_symbols_literals_and_positions() {
        let t = tokenize("SELECT Id\nFROM Account WHERE x >= 2025-01-01T00:00:00Z").unwrap();
        assert_eq!(t[0], (Tok::Word("SELECT".into()), Pos { row: 1, col: 1 }));
        assert_eq!(t[2], (Tok::Word("FROM".into()), Pos { row: 2, col: 1 }));
        assert_eq!(t[6].0, Tok::Sym(">="));
        assert_eq!(t[7].0, Tok::Literal("2025-01-01T00:00:00Z".into()));
        assert_eq!(t.last().unwrap().0, Tok::Eof);
    }

    #[test]
    fn string_escapes_follow_salesforce() {
        assert_eq!(toks(r"'O\'Brien'")[0], Tok::Str("O'Brien".into()));
        assert_eq!(toks(r"'a\nb'")[0], Tok::Str("a\nb".into()));
        assert_eq!(toks(r"'50\%'")[0], Tok::Str("50\\%".into()));
        assert_eq!(toks(r"'back\\slash'")[0], Tok::Str("back\\slash".into()));
        assert!(tokenize(r"'bad\q'").is_err());
        assert!(tokenize("'open").is_err());
    }

    #[test]
    fn not_equal_has_two_spellings() {
        assert_eq!(toks("a <> 1")[1], Tok::Sym("!="));
        assert_eq!(toks("a != 1")[1], Tok::Sym("!="));
    }
}
