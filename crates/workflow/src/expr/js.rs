//! The JavaScript side of expressions: one sandboxed QuickJS runtime per worker thread.
//!
//! Creating a runtime costs milliseconds, so each thread keeps one and reuses it across
//! executions, with compiled expressions cached by source. The runtime has no file system,
//! network or module loader (only QuickJS's language built-ins), a memory limit, and an
//! interrupt handler that stops code past its deadline. The prelude freezes every global so
//! one evaluation cannot leave state behind for the next.
//!
//! Evaluations run synchronously on the calling thread. On an async worker of a multi-thread
//! tokio runtime (the server), an evaluation that runs past [`INLINE_BUDGET`] is interrupted
//! and started again under `tokio::task::block_in_place`, which hands the worker's other tasks
//! (health checks, webhooks, other executions) to another thread while the slow code runs up
//! to the time limit. Quick expressions, nearly all of them, pay nothing for this; a slow one
//! stalls its worker for at most the budget, and its source is remembered so the next
//! evaluation of it goes straight to `block_in_place`. Re-running is safe: an expression
//! cannot change anything outside itself (globals are frozen, inputs are fresh copies).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use node_api::Item;
use rquickjs::{
    Array, Context, Ctx, Function, Object, Persistent, Runtime, Type, Value as JsValue,
};
use serde_json::{json, Map, Number, Value};

use super::Scope;
use crate::error::{ExpressionError, ExpressionErrorKind};
use crate::run::ExprData;

/// Limits applied to every JavaScript evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one evaluation may take.
    pub time: Duration,
    /// Memory the per-thread runtime may hold (applies to runtimes created afterwards).
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_millis(1000),
            memory_bytes: 64 << 20,
        }
    }
}

static TIME_LIMIT_MS: AtomicU64 = AtomicU64::new(1000);
static MEMORY_LIMIT: AtomicUsize = AtomicUsize::new(64 << 20);

/// Sets the limits for all evaluations (the engine calls it once from its configuration).
pub fn set_limits(limits: Limits) {
    TIME_LIMIT_MS.store(limits.time.as_millis() as u64, Ordering::Relaxed);
    MEMORY_LIMIT.store(limits.memory_bytes, Ordering::Relaxed);
}

/// How long an evaluation may run on an async worker thread before it is moved off it.
const INLINE_BUDGET: Duration = Duration::from_millis(5);

/// Compiled expressions kept per thread before the cache is emptied.
const CACHE_CAPACITY: usize = 4096;
/// Deepest JSON a result may have; deeper (or cyclic) results are refused.
const MAX_DEPTH: usize = 128;

#[derive(Default)]
struct Shared {
    deadline: Cell<Option<Instant>>,
    /// When the evaluation must give its worker thread back, if it runs on one.
    budget: Cell<Option<Instant>>,
    /// Set by the interrupt handler when it stopped the evaluation for the budget.
    over_budget: Cell<bool>,
    data: RefCell<Option<Arc<ExprData>>>,
    item_index: Cell<usize>,
}

struct Engine {
    // Field order matters: the context must drop before its runtime.
    cache: RefCell<HashMap<String, Persistent<Function<'static>>>>,
    /// Sources that went over [`INLINE_BUDGET`] before on this thread.
    slow: RefCell<std::collections::HashSet<String>>,
    context: Context,
    _runtime: Runtime,
    shared: Rc<Shared>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Evaluates `src` (the inside of one `{{ }}`) for `scope`.
pub(super) fn evaluate(src: &str, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Engine::new().map_err(|e| {
                ExpressionError::new(
                    ExpressionErrorKind::Runtime,
                    format!("could not start the expression engine: {e}"),
                )
            })?);
        }
        let engine = slot.as_ref().expect("engine was just created");
        let limit = Duration::from_millis(TIME_LIMIT_MS.load(Ordering::Relaxed));
        let deadline = Instant::now() + limit;
        if !on_async_worker() {
            return engine.evaluate(src, scope, limit, deadline, None);
        }
        if !engine.slow.borrow().contains(src) {
            let budget = Instant::now() + INLINE_BUDGET;
            let result = engine.evaluate(src, scope, limit, deadline, Some(budget));
            if !engine.shared.over_budget.replace(false) {
                return result;
            }
            let mut slow = engine.slow.borrow_mut();
            if slow.len() >= CACHE_CAPACITY {
                slow.clear();
            }
            slow.insert(src.to_string());
        }
        tokio::task::block_in_place(|| engine.evaluate(src, scope, limit, deadline, None))
    })
}

/// Whether this thread runs tasks of a multi-thread tokio runtime, where `block_in_place`
/// can hand them to another thread (it would panic on a current-thread runtime).
fn on_async_worker() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

impl Engine {
    fn new() -> rquickjs::Result<Self> {
        let runtime = Runtime::new()?;
        runtime.set_memory_limit(MEMORY_LIMIT.load(Ordering::Relaxed));
        runtime.set_max_stack_size(512 * 1024);
        let shared = Rc::new(Shared::default());
        let for_interrupt = shared.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let now = Instant::now();
            if for_interrupt.deadline.get().is_some_and(|d| now >= d) {
                return true;
            }
            let over = for_interrupt.budget.get().is_some_and(|b| now >= b);
            if over {
                for_interrupt.over_budget.set(true);
            }
            over
        })));
        let context = Context::full(&runtime)?;
        context.with(|ctx| install(&ctx, &shared))?;
        Ok(Self {
            cache: RefCell::new(HashMap::new()),
            slow: RefCell::new(std::collections::HashSet::new()),
            context,
            _runtime: runtime,
            shared,
        })
    }

    /// One evaluation, stopped at `deadline` (reported as taking longer than `limit`) or,
    /// when `budget` is given, at `budget` with `shared.over_budget` set.
    fn evaluate(
        &self,
        src: &str,
        scope: &Scope<'_>,
        limit: Duration,
        deadline: Instant,
        budget: Option<Instant>,
    ) -> Result<Value, ExpressionError> {
        *self.shared.data.borrow_mut() = Some(scope.data.clone());
        self.shared.item_index.set(scope.item_index);
        self.shared.deadline.set(Some(deadline));
        self.shared.budget.set(budget);
        let result = self.context.with(|ctx| {
            let func = self.function(&ctx, src)?;
            let json = match scope.data.input_item(scope.item_index) {
                Some(item) => object_to_js(&ctx, &item.json),
                None => Object::new(ctx.clone()).map(Object::into_value),
            }
            .map_err(|e| self.error(&ctx, e, limit))?;
            let out: JsValue = func.call((json,)).map_err(|e| self.error(&ctx, e, limit))?;
            from_js(&out, 0).map_err(|m| ExpressionError::new(ExpressionErrorKind::Runtime, m))
        });
        self.shared.deadline.set(None);
        self.shared.budget.set(None);
        *self.shared.data.borrow_mut() = None;
        result
    }

    fn function<'js>(&self, ctx: &Ctx<'js>, src: &str) -> Result<Function<'js>, ExpressionError> {
        if let Some(saved) = self.cache.borrow().get(src) {
            if let Ok(f) = saved.clone().restore(ctx) {
                return Ok(f);
            }
        }
        // The newline keeps a trailing `// comment` in the expression from eating the `)`.
        let wrapped = format!("(function($json) {{ return ({src}\n); }})");
        let func: Function = ctx
            .eval(wrapped)
            .map_err(|e| self.error(ctx, e, Duration::ZERO))?;
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(src.to_string(), Persistent::save(ctx, func.clone()));
        Ok(func)
    }

    fn error(&self, ctx: &Ctx<'_>, e: rquickjs::Error, limit: Duration) -> ExpressionError {
        let timed_out = self
            .shared
            .deadline
            .get()
            .is_some_and(|d| Instant::now() >= d);
        let (kind, message) = match e {
            rquickjs::Error::Exception => describe_exception(&ctx.catch()),
            rquickjs::Error::Allocation => (ExpressionErrorKind::Memory, "out of memory".into()),
            other => (ExpressionErrorKind::Runtime, other.to_string()),
        };
        if timed_out {
            return ExpressionError::new(
                ExpressionErrorKind::Timeout,
                format!(
                    "expression took longer than {} ms and was stopped",
                    limit.as_millis()
                ),
            );
        }
        if message.contains("out of memory") {
            ctx.run_gc();
            return ExpressionError::new(
                ExpressionErrorKind::Memory,
                "expression used more memory than allowed and was stopped",
            );
        }
        ExpressionError::new(kind, message)
    }
}

fn describe_exception(v: &JsValue<'_>) -> (ExpressionErrorKind, String) {
    if let Some(obj) = v.as_object() {
        let name: String = obj.get("name").unwrap_or_else(|_| "Error".into());
        let message: String = obj.get("message").unwrap_or_default();
        let kind = if name == "SyntaxError" {
            ExpressionErrorKind::Syntax
        } else {
            ExpressionErrorKind::Runtime
        };
        return (kind, format!("{name}: {message}"));
    }
    let text = from_js(v, 0)
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_else(|_| "an exception was thrown".into());
    (ExpressionErrorKind::Runtime, format!("Uncaught {text}"))
}

/// Registers the native accessors the prelude builds `$input`, `$('Node')` ... on, then runs
/// the prelude.
fn install<'js>(ctx: &Ctx<'js>, shared: &Rc<Shared>) -> rquickjs::Result<()> {
    let sy = Object::new(ctx.clone())?;

    let s = shared.clone();
    sy.set(
        "node",
        Function::new(
            ctx.clone(),
            move |name: String, what: String, index: f64, run: f64| {
                with_data(&s, |data, item_index| {
                    node_accessor(data, &name, &what, item_index, index, run)
                })
            },
        )?,
    )?;
    let s = shared.clone();
    sy.set(
        "input",
        Function::new(ctx.clone(), move |what: String| {
            with_data(&s, |data, item_index| {
                let items = data.input.as_slice();
                Ok(match what.as_str() {
                    "item" => item_json(items.get(item_index)),
                    "first" => item_json(items.first()),
                    "last" => item_json(items.last()),
                    "all" => serde_json::to_value(items).unwrap_or(Value::Null),
                    "binary" => items
                        .get(item_index)
                        .and_then(|i| serde_json::to_value(&i.binary).ok())
                        .filter(|v| !v.is_null())
                        .unwrap_or_else(|| json!({})),
                    other => return Err(format!("unknown $input accessor {other}")),
                })
            })
        })?,
    )?;
    let s = shared.clone();
    sy.set(
        "meta",
        Function::new(ctx.clone(), move |what: String| {
            with_data(&s, |data, _| {
                Ok(match what.as_str() {
                    "execution" => json!({"id": data.execution_id, "mode": data.execution_mode}),
                    _ => json!({
                        "id": data.workflow_id,
                        "name": data.workflow_name,
                        "active": data.workflow_active
                    }),
                })
            })
        })?,
    )?;
    let s = shared.clone();
    sy.set(
        "itemIndex",
        Function::new(ctx.clone(), move || s.item_index.get() as f64)?,
    )?;
    let s = shared.clone();
    sy.set(
        "runIndex",
        Function::new(ctx.clone(), move || {
            s.data.borrow().as_ref().map_or(0.0, |d| d.run_index as f64)
        })?,
    )?;
    ctx.globals().set("__sy", sy)?;
    ctx.eval::<(), _>(include_str!("prelude.js"))?;
    Ok(())
}

/// Runs `f` over the current evaluation's data and encodes its answer as the prelude expects:
/// `{"v": value}` or `{"e": message}` (thrown as an Error in JavaScript).
fn with_data(shared: &Shared, f: impl FnOnce(&ExprData, usize) -> Result<Value, String>) -> String {
    let data = shared.data.borrow();
    let answer = match data.as_deref() {
        Some(d) => f(d, shared.item_index.get()),
        None => Err("no execution data is available here".into()),
    };
    match answer {
        Ok(v) => json!({ "v": v }).to_string(),
        Err(e) => json!({ "e": e }).to_string(),
    }
}

fn item_json(item: Option<&Item>) -> Value {
    item.and_then(|i| serde_json::to_value(i).ok())
        .unwrap_or(Value::Null)
}

fn node_accessor(
    data: &ExprData,
    name: &str,
    what: &str,
    item_index: usize,
    index: f64,
    run: f64,
) -> Result<Value, String> {
    // `first(branchIndex, runIndex)` and its kin: a negative number stands for "not given".
    let given = |n: f64| (n >= 0.0).then_some(n as usize);
    let (branch, run) = (given(index), given(run));
    Ok(match what {
        "item" => item_json(Some(data.paired_item(name, item_index)?)),
        "match" => item_json(Some(data.paired_item(name, index.max(0.0) as usize)?)),
        "first" => item_json(data.node_items(name, branch, run)?.first()),
        "last" => item_json(data.node_items(name, branch, run)?.last()),
        "all" => serde_json::to_value(data.node_items(name, branch, run)?).unwrap_or(Value::Null),
        "json" => item_json(Some(data.node_item_at(name, item_index)?)),
        "executed" => Value::Bool(data.runs.contains_key(name)),
        other => return Err(format!("unknown node accessor {other}")),
    })
}

fn object_to_js<'js>(ctx: &Ctx<'js>, o: &Map<String, Value>) -> rquickjs::Result<JsValue<'js>> {
    let obj = Object::new(ctx.clone())?;
    for (k, v) in o {
        obj.set(k.as_str(), to_js(ctx, v)?)?;
    }
    Ok(obj.into_value())
}

fn to_js<'js>(ctx: &Ctx<'js>, v: &Value) -> rquickjs::Result<JsValue<'js>> {
    Ok(match v {
        Value::Null => JsValue::new_null(ctx.clone()),
        Value::Bool(b) => JsValue::new_bool(ctx.clone(), *b),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => JsValue::new_int(ctx.clone(), i),
            None => JsValue::new_float(ctx.clone(), n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => rquickjs::String::from_str(ctx.clone(), s)?.into_value(),
        Value::Array(items) => {
            let arr = Array::new(ctx.clone())?;
            for (i, x) in items.iter().enumerate() {
                arr.set(i, to_js(ctx, x)?)?;
            }
            arr.into_value()
        }
        Value::Object(o) => object_to_js(ctx, o)?,
    })
}

/// Converts a JavaScript result to JSON as `JSON.stringify` would: `undefined` and functions
/// become null (or are dropped inside objects), objects with `toJSON` (Date, DateTime) use it,
/// and whole floats become integers so `0.5 * 2` is `1`, as n8n shows it.
fn from_js(v: &JsValue<'_>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("expression result is nested too deeply (or refers to itself)".into());
    }
    Ok(match v.type_of() {
        Type::Bool => Value::Bool(v.as_bool().unwrap_or(false)),
        Type::Int => Value::from(v.as_int().unwrap_or(0)),
        Type::Float => float(v.as_float().unwrap_or(f64::NAN)),
        Type::String => Value::String(
            v.as_string()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_default(),
        ),
        Type::Array => {
            let arr = v.as_array().ok_or("not an array")?;
            let mut out = Vec::with_capacity(arr.len());
            for i in 0..arr.len() {
                let x: JsValue = arr.get(i).map_err(|e| e.to_string())?;
                out.push(from_js(&x, depth + 1)?);
            }
            Value::Array(out)
        }
        Type::Object | Type::Exception => {
            let obj = v.as_object().ok_or("not an object")?;
            if let Ok(to_json) = obj.get::<_, Function>("toJSON") {
                let r: JsValue = to_json
                    .call((rquickjs::function::This(obj.clone()),))
                    .map_err(|e| e.to_string())?;
                return from_js(&r, depth + 1);
            }
            let mut out = Map::new();
            for prop in obj.props::<String, JsValue>() {
                let (k, x) = prop.map_err(|e| e.to_string())?;
                if matches!(
                    x.type_of(),
                    Type::Undefined | Type::Function | Type::Constructor | Type::Symbol
                ) {
                    continue;
                }
                out.insert(k, from_js(&x, depth + 1)?);
            }
            Value::Object(out)
        }
        _ => Value::Null,
    })
}

fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}
