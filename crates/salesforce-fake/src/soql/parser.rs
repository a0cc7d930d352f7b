//! Recursive descent over the tokens:
//!
//! ```text
//! query   := SELECT select FROM name [WHERE cond] [ORDER BY order (, order)*] [LIMIT n] [OFFSET n]
//! select  := COUNT ( ) | name (, name)*
//! cond    := unary (AND unary)* | unary (OR unary)*      -- mixing needs parentheses, as in SOQL
//! unary   := NOT unary | ( cond ) | name op value | name [NOT] IN ( value, ... )
//! value   := 'string' | number | date | datetime | TRUE | FALSE | NULL | TODAY | LAST_N_DAYS:n ...
//! ```

use chrono::{DateTime, NaiveDate, Utc};

use super::lexer::{tokenize, Tok};
use super::{
    CmpOp, Cond, ErrorKind, Ident, Literal, OrderItem, Pos, Query, RelativeDate, Select, SoqlError,
};

/// Parses SOQL text.
pub(crate) fn parse(src: &str) -> Result<Query, SoqlError> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, i: 0 };
    let q = p.query()?;
    p.expect_eof()?;
    Ok(q)
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }

    fn pos(&self) -> Pos {
        self.toks[self.i].1
    }

    fn bump(&mut self) -> (Tok, Pos) {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn unexpected(&self) -> SoqlError {
        SoqlError::new(
            ErrorKind::Malformed,
            self.pos(),
            format!("unexpected token: {}", self.peek().describe()),
        )
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SoqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Tok::Sym(x) if *x == s) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), SoqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_eof(&self) -> Result<(), SoqlError> {
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn ident(&mut self) -> Result<Ident, SoqlError> {
        match self.peek().clone() {
            Tok::Word(w) if !is_reserved(&w) => {
                let pos = self.pos();
                self.bump();
                Ok(Ident { name: w, pos })
            }
            _ => Err(self.unexpected()),
        }
    }

    fn query(&mut self) -> Result<Query, SoqlError> {
        self.expect_kw("SELECT")?;
        let select = if self.is_kw("COUNT") {
            self.bump();
            self.expect_sym("(")?;
            self.expect_sym(")")?;
            Select::Count
        } else {
            let mut fields = vec![self.ident()?];
            while self.eat_sym(",") {
                fields.push(self.ident()?);
            }
            Select::Fields(fields)
        };
        self.expect_kw("FROM")?;
        let from = self.ident()?;
        let filter = if self.eat_kw("WHERE") {
            Some(self.cond()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let field = self.ident()?;
                let descending = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                // Salesforce sorts nulls first ascending and last descending.
                let mut nulls_last = descending;
                if self.eat_kw("NULLS") {
                    if self.eat_kw("LAST") {
                        nulls_last = true;
                    } else {
                        self.expect_kw("FIRST")?;
                        nulls_last = false;
                    }
                }
                order_by.push(OrderItem {
                    field,
                    descending,
                    nulls_last,
                });
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let limit = if self.eat_kw("LIMIT") {
            Some(self.count()?)
        } else {
            None
        };
        let offset = if self.eat_kw("OFFSET") {
            Some(self.count()?)
        } else {
            None
        };
        Ok(Query {
            select,
            from,
            filter,
            order_by,
            limit,
            offset,
        })
    }

    fn count(&mut self) -> Result<u64, SoqlError> {
        match self.peek().clone() {
            Tok::Literal(s) => match s.parse::<u64>() {
                Ok(n) => {
                    self.bump();
                    Ok(n)
                }
                Err(_) => Err(self.unexpected()),
            },
            _ => Err(self.unexpected()),
        }
    }

    fn cond(&mut self) -> Result<Cond, SoqlError> {
        let first = self.unary()?;
        let joiner = if self.is_kw("AND") {
            "AND"
        } else if self.is_kw("OR") {
            "OR"
        } else {
            return Ok(first);
        };
        let mut parts = vec![first];
        while self.eat_kw(joiner) {
            parts.push(self.unary()?);
        }
        // SOQL refuses `a AND b OR c`: the other joiner here is an error.
        if self.is_kw("AND") || self.is_kw("OR") {
            return Err(self.unexpected());
        }
        Ok(if joiner == "AND" {
            Cond::And(parts)
        } else {
            Cond::Or(parts)
        })
    }

    fn unary(&mut self) -> Result<Cond, SoqlError> {
        if self.eat_kw("NOT") {
            return Ok(Cond::Not(Box::new(self.unary()?)));
        }
        if self.eat_sym("(") {
            let c = self.cond()?;
            self.expect_sym(")")?;
            return Ok(c);
        }
        let field = self.ident()?;
        let negated = self.eat_kw("NOT");
        if negated || self.is_kw("IN") {
            self.expect_kw("IN")?;
            let value_pos = self.pos();
            self.expect_sym("(")?;
            let mut values = vec![self.literal()?];
            while self.eat_sym(",") {
                values.push(self.literal()?);
            }
            self.expect_sym(")")?;
            return Ok(Cond::In {
                field,
                negated,
                values,
                value_pos,
            });
        }
        let op = if self.eat_kw("LIKE") {
            CmpOp::Like
        } else {
            let op = match self.peek() {
                Tok::Sym("=") => CmpOp::Eq,
                Tok::Sym("!=") => CmpOp::Ne,
                Tok::Sym("<") => CmpOp::Lt,
                Tok::Sym("<=") => CmpOp::Le,
                Tok::Sym(">") => CmpOp::Gt,
                Tok::Sym(">=") => CmpOp::Ge,
                _ => return Err(self.unexpected()),
            };
            self.bump();
            op
        };
        let value_pos = self.pos();
        let value = self.literal()?;
        Ok(Cond::Cmp {
            field,
            op,
            value,
            value_pos,
        })
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let (tok, pos) = self.toks[self.i].clone();
        let lit = match &tok {
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Literal(s) => classify(s).ok_or_else(|| self.unexpected())?,
            Tok::Word(w) => match w.to_ascii_uppercase().as_str() {
                "NULL" => Literal::Null,
                "TRUE" => Literal::Bool(true),
                "FALSE" => Literal::Bool(false),
                "TODAY" => Literal::Relative(RelativeDate::Today),
                "YESTERDAY" => Literal::Relative(RelativeDate::Yesterday),
                "TOMORROW" => Literal::Relative(RelativeDate::Tomorrow),
                "LAST_N_DAYS" | "NEXT_N_DAYS" => {
                    let upper = w.to_ascii_uppercase();
                    self.bump();
                    self.expect_sym(":")?;
                    let n = self.count()?;
                    let n = u32::try_from(n).map_err(|_| {
                        SoqlError::new(ErrorKind::Malformed, pos, format!("unexpected token: {n}"))
                    })?;
                    return Ok(Literal::Relative(if upper == "LAST_N_DAYS" {
                        RelativeDate::LastNDays(n)
                    } else {
                        RelativeDate::NextNDays(n)
                    }));
                }
                _ => return Err(self.unexpected()),
            },
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(lit)
    }
}

/// Words that cannot be field or object names where one is expected.
fn is_reserved(w: &str) -> bool {
    const RESERVED: &[&str] = &[
        "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT",
        "OFFSET", "NULL", "TRUE", "FALSE", "ASC", "DESC", "NULLS",
    ];
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w))
}

/// A number, a date (`2025-03-30`) or a datetime (`2025-03-30T17:57:34Z`,
/// with optional fraction and `+hh:mm` offset). SOQL datetimes need a zone.
fn classify(s: &str) -> Option<Literal> {
    if let Ok(n) = s.parse::<f64>() {
        return Some(Literal::Number(n));
    }
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(Literal::Date);
    }
    if s.len() > 11 && s.contains('T') && (s.ends_with('Z') || s[11..].contains(['+', '-'])) {
        let normalized = s.replace('z', "Z");
        return DateTime::parse_from_rfc3339(&normalized)
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .ok()
            .map(|t| Literal::DateTime(t.with_timezone(&Utc)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> SoqlError {
        parse(q).expect_err(q)
    }

    #[test]
    fn full_query_parses() {
        let q = parse(
            "select Id, Name FROM Account WHERE (Name LIKE 'A%' OR Type = null) AND NOT AnnualRevenue < 10 \
             AND Industry NOT IN ('Energy','Retail') AND CreatedDate >= LAST_N_DAYS:7 \
             ORDER BY Name DESC NULLS FIRST, Id LIMIT 10 OFFSET 5",
        )
        .unwrap();
        assert_eq!(q.from.name, "Account");
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.offset, Some(5));
        assert_eq!(q.order_by.len(), 2);
        assert!(q.order_by[0].descending && !q.order_by[0].nulls_last);
        let Some(Cond::And(parts)) = q.filter else {
            panic!("expected AND")
        };
        assert_eq!(parts.len(), 4);
        assert!(matches!(parts[0], Cond::Or(_)));
        assert!(matches!(parts[1], Cond::Not(_)));
        assert!(matches!(parts[2], Cond::In { negated: true, .. }));
        assert!(matches!(
            parts[3],
            Cond::Cmp {
                value: Literal::Relative(RelativeDate::LastNDays(7)),
                ..
            }
        ));
    }

    #[test]
    fn count_and_literals() {
        let q = parse("SELECT COUNT() FROM Lead WHERE IsConverted = false AND CreatedDate > 2025-03-30T17:57:34.000+01:00 AND CloseDate = 2025-01-01 AND Amount > -1.5").unwrap();
        assert_eq!(q.select, Select::Count);
        let Some(Cond::And(parts)) = q.filter else {
            panic!()
        };
        assert!(matches!(
            parts[0],
            Cond::Cmp {
                value: Literal::Bool(false),
                ..
            }
        ));
        let Cond::Cmp {
            value: Literal::DateTime(t),
            ..
        } = &parts[1]
        else {
            panic!()
        };
        assert_eq!(t.to_rfc3339(), "2025-03-30T16:57:34+00:00");
        assert!(matches!(
            parts[2],
            Cond::Cmp {
                value: Literal::Date(_),
                ..
            }
        ));
        assert!(matches!(parts[3], Cond::Cmp { value: Literal::Number(n), .. } if n == -1.5));
    }

    #[test]
    fn syntax_errors_name_the_token_and_position() {
        let e = err("SELECT Id FORM Account");
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert_eq!(e.pos, Pos { row: 1, col: 11 });
        assert_eq!(e.detail, "unexpected token: FORM");
        assert_eq!(
            e.message("SELECT Id FORM Account"),
            "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: FORM"
        );
        assert_eq!(err("SELECT Id FROM").detail, "unexpected token: <EOF>");
        assert_eq!(err("SELECT FROM Account").detail, "unexpected token: FROM");
        assert_eq!(
            err("SELECT Id FROM Account LIMIT x").detail,
            "unexpected token: x"
        );
        assert_eq!(
            err("SELECT Id FROM Account WHERE Name = 'a' AND Id = 'b' OR Id = 'c'").detail,
            "unexpected token: OR"
        );
        assert_eq!(
            err("SELECT Id FROM Account WHERE Name = ").detail,
            "unexpected token: <EOF>"
        );
        assert_eq!(err("SELECT Id, FROM Account").pos.col, 12);
        assert_eq!(
            err("SELECT Id FROM Account WHERE CreatedDate > 2025-13-01").kind,
            ErrorKind::Malformed
        );
    }
}
