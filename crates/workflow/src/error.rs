//! [`WorkflowError`]: what parsing, validating and running a workflow can fail with.

use node_api::NodeError;

/// One reason a workflow was refused, naming the node it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The node concerned, when there is one.
    pub node: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.node {
            Some(n) => write!(f, "node \"{n}\": {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Errors of the workflow engine.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The JSON is not a workflow.
    #[error("invalid workflow JSON: {0}")]
    Parse(String),
    /// The workflow parsed but refers to things that do not exist or are wrong.
    #[error("invalid workflow: {}", join(.0))]
    Invalid(Vec<Problem>),
    /// An expression failed; names the node and parameter.
    #[error("{0}")]
    Expression(#[from] ExpressionError),
    /// A node failed and the workflow stopped.
    #[error("node \"{node}\": {error}")]
    Node {
        /// The failing node.
        node: String,
        /// Its error (boxed: it is large and this variant is rare).
        error: Box<NodeError>,
    },
    /// The execution ran past `executionTimeout`.
    #[error("execution timed out after {0} s")]
    Timeout(u64),
    /// The execution was cancelled.
    #[error("execution was cancelled")]
    Cancelled,
    /// The workflow has no node to start from.
    #[error("no start node: {0}")]
    NoStartNode(String),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// An expression failed to parse or evaluate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpressionError {
    /// Full message, naming node and parameter when known.
    pub message: String,
    /// What kind of failure.
    pub kind: ExpressionErrorKind,
}

/// Kinds of expression failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpressionErrorKind {
    /// `{{` without `}}` or JavaScript that does not parse.
    Syntax,
    /// The JavaScript threw.
    Runtime,
    /// The time limit stopped it.
    Timeout,
    /// The memory limit stopped it.
    Memory,
}

impl ExpressionError {
    /// An error of `kind`.
    pub fn new(kind: ExpressionErrorKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind,
        }
    }

    /// The same error, prefixed with the node and parameter it happened in.
    pub fn in_parameter(mut self, node: &str, parameter: &str) -> Self {
        self.message = format!(
            "expression in node \"{node}\", parameter \"{parameter}\": {}",
            self.message
        );
        self
    }
}

impl From<ExpressionError> for NodeError {
    fn from(e: ExpressionError) -> Self {
        NodeError::new(node_api::NodeErrorKind::Expression, e.message)
    }
}
