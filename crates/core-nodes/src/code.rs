//! `n8n-nodes-base.code` v1 and v2: JavaScript in the expression sandbox, once for all items
//! or once per item.
//!
//! The whole node run is one call into the sandbox: the items go in as one JSON text, the
//! prelude's runner calls the user's code (once, or once per item in a loop inside JavaScript)
//! and hands back one JSON text. Crossing into QuickJS per item would cost more than the code
//! itself for small snippets; n8n's task runner pays tens of milliseconds per call for the same
//! reason, in the other direction.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};
use serde_json::Value;

use super::{choice, describe};
use workflow::expr::{run_code, CodeFailure, CodeMode};
use workflow::NodeContext;

/// The Code node.
pub struct Code(NodeDescription);

const LANGUAGES: &[&str] = &["javaScript"];

impl Code {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("code", "Code", &[1.0, 2.0]);
        d.parameters.push(choice(
            "mode",
            "runOnceForAllItems",
            &["runOnceForAllItems", "runOnceForEachItem"],
        ));
        Self(d)
    }
}

#[async_trait]
impl Node for Code {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        if let Some(problem) = language_problem(parameters.get("language")) {
            problems.push(problem);
        }
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let engine = NodeContext::of(ctx, "Code")?;
        let p = ctx.parameters(0)?;
        if ctx.node().type_version >= 2.0 {
            if let Some(problem) = language_problem(p.get("language")) {
                return Err(NodeError::parameter(problem));
            }
        }
        let mode = match p.string_or("mode", "runOnceForAllItems")? {
            "runOnceForAllItems" => CodeMode::AllItems,
            "runOnceForEachItem" => CodeMode::EachItem,
            other => {
                return Err(NodeError::parameter(format!(
                    "Parameter \"mode\" has an unknown value \"{other}\" (accepted: runOnceForAllItems, runOnceForEachItem)"
                )))
            }
        };
        let code = p.string_or("jsCode", "")?;
        if mode == CodeMode::EachItem {
            check_no_all_items_methods(code)?;
        }
        let input_json = serde_json::to_string(&input).map_err(|e| {
            NodeError::operation(format!("could not hand the items to the code: {e}"))
        })?;
        let run = run_code(
            code,
            mode,
            input_json,
            ctx.continue_on_fail(),
            engine.data(),
        )
        .map_err(into_node_error)?;
        for line in &run.logs {
            tracing::info!(
                parent: ctx.span(),
                execution_id = ctx.execution_id(),
                node = %ctx.node().name,
                "console.log: {line}"
            );
        }
        if let Some(e) = &run.error {
            tracing::debug!(parent: ctx.span(), error = %e.message, "code failed; continuing");
        }
        Ok(vec![run.items])
    }
}

/// Python runs in n8n's Pyodide or its Python task runner; Switchyard has neither.
fn language_problem(language: Option<&Value>) -> Option<String> {
    match language {
        None | Some(Value::Null) => None,
        Some(Value::String(l)) if LANGUAGES.contains(&l.as_str()) => None,
        Some(Value::String(l)) if l.starts_with("python") => Some(format!(
            "Parameter \"language\" is \"{l}\": Switchyard runs JavaScript Code nodes only, so the \
             Python in \"pythonCode\" cannot run; rewrite this node's code in JavaScript \
             (\"language\": \"javaScript\", \"jsCode\")"
        )),
        Some(other) => Some(format!(
            "Parameter \"language\" has an unknown value {other} (accepted: javaScript)"
        )),
    }
}

/// n8n refuses `$input.first()` and its kin in per-item mode before running, naming the line.
fn check_no_all_items_methods(code: &str) -> Result<(), NodeError> {
    for method in ["first", "last", "all", "itemMatching"] {
        let call = format!("$input.{method}(");
        let Some(line) = code.lines().position(|l| {
            let t = l.trim_start();
            l.contains(&call) && !t.starts_with("//") && !t.starts_with('*')
        }) else {
            continue;
        };
        return Err(NodeError::operation(format!(
            "Can't use .{method}() here [line {}, for item 0]",
            line + 1
        ))
        .with_description("This is only available in 'Run Once for All Items' mode")
        .at_item(0));
    }
    Ok(())
}

fn into_node_error(e: CodeFailure) -> NodeError {
    let mut error = NodeError::operation(e.message);
    if let Some(d) = e.description {
        error = error.with_description(d);
    }
    if let Some(i) = e.item_index {
        error = error.at_item(i);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_is_refused_with_the_way_out() {
        let problem = language_problem(Some(&json!("python"))).unwrap();
        assert!(
            problem.starts_with("Parameter \"language\" is \"python\""),
            "{problem}"
        );
        assert!(problem.contains("JavaScript"), "{problem}");
        assert!(language_problem(Some(&json!("javaScript"))).is_none());
        assert!(language_problem(None).is_none());
    }

    #[test]
    fn all_items_methods_are_refused_per_item_with_their_line() {
        let e = check_no_all_items_methods("const a = 1;\n// $input.all()\nreturn $input.first();")
            .unwrap_err();
        assert_eq!(e.message, "Can't use .first() here [line 3, for item 0]");
        assert!(check_no_all_items_methods("return $input.item.json;").is_ok());
    }
}
