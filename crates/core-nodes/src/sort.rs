//! `n8n-nodes-base.sort` v1: orders the items by fields (`simple`), at random (`random`) or
//! by a JavaScript comparator (`code`, in the sandbox).
//!
//! Items keep the pairing they came with, as n8n passes its input items on unchanged.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};
use rand::seq::SliceRandom;
use serde_json::Value;

use super::values::{self, field};
use super::{choice, describe, unknown_options};
use workflow::expr::{run_code, CodeMode};
use workflow::NodeContext;

/// The Sort node.
pub struct Sort(NodeDescription);

impl Sort {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("sort", "Sort", &[1.0]);
        d.parameters
            .push(choice("type", "simple", &["simple", "random", "code"]));
        d.parameters.push(choice(
            "sortFieldsUi.sortField.order",
            "ascending",
            &["ascending", "descending"],
        ));
        Self(d)
    }
}

#[async_trait]
impl Node for Sort {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(unknown_options(
            parameters,
            "options",
            &["disableDotNotation"],
        ));
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let p = ctx.parameters(0)?;
        match p.string_or("type", "simple")? {
            "random" => {
                let mut items = input;
                items.shuffle(&mut rand::thread_rng());
                Ok(vec![items])
            }
            "code" => sort_by_code(ctx, &p, input),
            _ => sort_simple(&p, input).map(|items| vec![items]),
        }
    }
}

fn sort_simple(p: &node_api::Parameters, input: Vec<Item>) -> Result<Vec<Item>, NodeError> {
    let dot = !p.bool_or("options.disableDotNotation", false)?;
    let fields: Vec<(String, bool)> = p
        .collection("sortFieldsUi.sortField")?
        .iter()
        .map(|f| {
            (
                f.get("fieldName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                f.get("order").and_then(Value::as_str) != Some("descending"),
            )
        })
        .collect();
    if fields.is_empty() {
        return Err(NodeError::operation(
            "No sorting specified. Please add a field to sort by",
        ));
    }
    for (name, _) in &fields {
        let found = input.iter().any(|i| field(&i.json, name, dot).is_some());
        if found {
            continue;
        }
        let mut e = NodeError::operation(format!(
            "Couldn't find the field '{name}' in the input data"
        ));
        if !dot && name.contains('.') {
            e = e.with_description(
                "If you're trying to use a nested field, make sure you turn off 'disable dot notation' in the node options",
            );
        }
        return Err(e);
    }
    // n8n compares strings lower-cased, equal values by lodash's isEqual, others by `lt`.
    let key = |item: &Item, name: &str| -> Option<Value> {
        match field(&item.json, name, dot) {
            Some(Value::String(s)) => Some(Value::String(s.to_lowercase())),
            other => other.cloned(),
        }
    };
    let mut less = |a: &Item, b: &Item| -> bool {
        for (name, ascending) in &fields {
            let (x, y) = (key(a, name), key(b, name));
            if values::equal(x.as_ref(), y.as_ref()) {
                continue;
            }
            let lt = values::lodash_lt(x.as_ref(), y.as_ref());
            // -1 when (lt and ascending) or (not lt and descending).
            return lt == *ascending;
        }
        false
    };
    Ok(values::stable_sort(input, &mut less))
}

/// n8n runs `items.sort((a, b) => { code })`; so do we, in the sandbox.
fn sort_by_code(
    ctx: &dyn ExecuteContext,
    p: &node_api::Parameters,
    input: Vec<Item>,
) -> Result<Vec<Vec<Item>>, NodeError> {
    let engine = NodeContext::of(ctx, "Sort")?;
    let code = p.string_or("code", "")?;
    let has_return = code.match_indices("return").any(|(at, _)| {
        let ident =
            |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        !ident(code[..at].chars().next_back()) && !ident(code[at + 6..].chars().next())
    });
    if !has_return {
        return Err(NodeError::operation(
            "Sort code doesn't return. Please add a 'return' statement to your code",
        ));
    }
    // n8n's sandbox lets the comparator assign names it never declared (its own default code
    // does: `fieldName = 'myField';`); declare those so they work here too.
    let declared = undeclared_assignments(code);
    let declarations = if declared.is_empty() {
        String::new()
    } else {
        format!("var {}; ", declared.join(", "))
    };
    let wrapped = format!("return items.sort((a, b) => {{ {declarations}{code}\n}});");
    let input_json = serde_json::to_string(&input)
        .map_err(|e| NodeError::operation(format!("could not hand the items to the code: {e}")))?;
    let run = run_code(
        &wrapped,
        CodeMode::AllItems,
        input_json,
        false,
        engine.data(),
    )
    .map_err(|e| {
        let mut error = NodeError::operation(e.message);
        if let Some(d) = e.description {
            error = error.with_description(d);
        }
        error
    })?;
    Ok(vec![run.items])
}

/// Names assigned at the start of a statement (`name = ...`) without `let`, `const` or `var`.
fn undeclared_assignments(code: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for statement in code.split([';', '\n', '{', '}']) {
        let s = statement.trim();
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(s.len());
        let (name, rest) = s.split_at(end);
        let rest = rest.trim_start();
        let assigns = rest.starts_with('=') && !rest.starts_with("==") && !rest.starts_with("=>");
        let keyword = matches!(name, "let" | "const" | "var" | "return" | "a" | "b" | "");
        if assigns
            && !keyword
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_the_comparator_assigns_without_declaring() {
        assert_eq!(
            undeclared_assignments("fieldName = 'myField';\nif (a.json[fieldName] < b.json[fieldName]) {\nreturn -1;\n}\nconst x = 1; y=2; z == 3;"),
            ["fieldName", "y"]
        );
    }
}
