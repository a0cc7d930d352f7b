//! A SOQL subset: enough for the queries clients and pollers send.
//!
//! `lexer` turns text into positioned tokens, `parser` builds a [`Query`]
//! by recursive descent, and `eval` checks it against the org's schema
//! (unknown object, unknown field, literal of the wrong type) and runs it
//! over records. Errors carry a row and column and print as Salesforce does.

mod eval;
mod lexer;
mod parser;

pub(crate) use eval::compile;
pub(crate) use parser::parse;

/// Where in the query text something is (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub row: usize,
    pub col: usize,
}

/// Salesforce's three query error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Syntax error.
    Malformed,
    /// Unknown field or a value of the wrong type.
    InvalidField,
    /// Unknown object.
    InvalidType,
}

/// A query error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SoqlError {
    pub kind: ErrorKind,
    pub pos: Pos,
    pub detail: String,
}

impl SoqlError {
    pub(crate) fn new(kind: ErrorKind, pos: Pos, detail: impl Into<String>) -> Self {
        Self {
            kind,
            pos,
            detail: detail.into(),
        }
    }

    /// The `errorCode`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Malformed => "MALFORMED_QUERY",
            ErrorKind::InvalidField => "INVALID_FIELD",
            ErrorKind::InvalidType => "INVALID_TYPE",
        }
    }

    /// Salesforce's message: the query line, a caret under the error, the
    /// position, and the reason.
    pub fn message(&self, query: &str) -> String {
        let line = query
            .lines()
            .nth(self.pos.row.saturating_sub(1))
            .unwrap_or(query);
        let caret = " ".repeat(self.pos.col.saturating_sub(1));
        format!(
            "\n{line}\n{caret}^\nERROR at Row:{}:Column:{}\n{}",
            self.pos.row, self.pos.col, self.detail
        )
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Select,
    pub from: Ident,
    pub filter: Option<Cond>,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// A name with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub pos: Pos,
}

/// The select list.
#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    /// `SELECT COUNT()`.
    Count,
    /// `SELECT a, b`.
    Fields(Vec<Ident>),
}

/// A `WHERE` condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Cmp {
        field: Ident,
        op: CmpOp,
        value: Literal,
        value_pos: Pos,
    },
    In {
        field: Ident,
        negated: bool,
        values: Vec<Literal>,
        value_pos: Pos,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

/// A literal value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Date(chrono::NaiveDate),
    DateTime(chrono::DateTime<chrono::Utc>),
    /// `TODAY`, `LAST_N_DAYS:7`...: a range of days.
    Relative(RelativeDate),
}

/// A date literal relative to today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeDate {
    Today,
    Yesterday,
    Tomorrow,
    LastNDays(u32),
    NextNDays(u32),
}

/// One `ORDER BY` item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub field: Ident,
    pub descending: bool,
    pub nulls_last: bool,
}
