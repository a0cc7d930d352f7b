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
    /// The prelude's Code node runner (`runCode`), kept out of the globals.
    runner: Persistent<Function<'static>>,
    /// Sources that went over [`INLINE_BUDGET`] before on this thread.
    slow: RefCell<std::collections::HashSet<String>>,
    context: Context,
    _runtime: Runtime,
    shared: Rc<Shared>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine, starting it on first use.
fn with_engine<T>(
    f: impl FnOnce(&Engine) -> Result<T, ExpressionError>,
) -> Result<T, ExpressionError> {
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
        f(slot.as_ref().expect("engine was just created"))
    })
}

/// Evaluates `src` (the inside of one `{{ }}`) for `scope`.
pub(super) fn evaluate(src: &str, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    evaluate_bound(src, scope, None)
}

/// Evaluates `src` for `scope` with extra variables: each key of `bindings` (e.g. `$response`)
/// is a variable of the expression. `None` evaluates as [`evaluate`] does.
pub(super) fn evaluate_bound(
    src: &str,
    scope: &Scope<'_>,
    bindings: Option<&Map<String, Value>>,
) -> Result<Value, ExpressionError> {
    with_engine(|engine| {
        let limit = Duration::from_millis(TIME_LIMIT_MS.load(Ordering::Relaxed));
        let deadline = Instant::now() + limit;
        if !on_async_worker() {
            return engine.evaluate(src, scope, bindings, limit, deadline, None);
        }
        if !engine.slow.borrow().contains(src) {
            let budget = Instant::now() + INLINE_BUDGET;
            let result = engine.evaluate(src, scope, bindings, limit, deadline, Some(budget));
            if !engine.shared.over_budget.replace(false) {
                return result;
            }
            let mut slow = engine.slow.borrow_mut();
            if slow.len() >= CACHE_CAPACITY {
                slow.clear();
            }
            slow.insert(src.to_string());
        }
        tokio::task::block_in_place(|| engine.evaluate(src, scope, bindings, limit, deadline, None))
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
        let runner = context
            .with(|ctx| install(&ctx, &shared).map(|runner| Persistent::save(&ctx, runner)))?;
        Ok(Self {
            cache: RefCell::new(HashMap::new()),
            runner,
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
        bindings: Option<&Map<String, Value>>,
        limit: Duration,
        deadline: Instant,
        budget: Option<Instant>,
    ) -> Result<Value, ExpressionError> {
        *self.shared.data.borrow_mut() = Some(scope.data.clone());
        self.shared.item_index.set(scope.item_index);
        self.shared.deadline.set(Some(deadline));
        self.shared.budget.set(budget);
        let result = self.context.with(|ctx| {
            let names: Vec<&str> = bindings
                .map(|b| b.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let func = self.function(&ctx, src, &names)?;
            let json = match scope.data.input_item(scope.item_index) {
                Some(item) => object_to_js(&ctx, &item.json),
                None => Object::new(ctx.clone()).map(Object::into_value),
            }
            .map_err(|e| self.error(&ctx, e, limit))?;
            let out: JsValue = match bindings {
                None => func.call((json,)),
                Some(b) => object_to_js(&ctx, b).and_then(|b| func.call((json, b))),
            }
            .map_err(|e| self.error(&ctx, e, limit))?;
            from_js(&out, 0).map_err(|m| ExpressionError::new(ExpressionErrorKind::Runtime, m))
        });
        self.shared.deadline.set(None);
        self.shared.budget.set(None);
        *self.shared.data.borrow_mut() = None;
        result
    }

    /// The compiled function for `src`; `names` are extra variables read from a second
    /// argument (the bindings object), so their values never enter the source or the cache.
    fn function<'js>(
        &self,
        ctx: &Ctx<'js>,
        src: &str,
        names: &[&str],
    ) -> Result<Function<'js>, ExpressionError> {
        let key = if names.is_empty() {
            src.to_string()
        } else {
            format!("{}\u{0}{src}", names.join(","))
        };
        if let Some(saved) = self.cache.borrow().get(&key) {
            if let Ok(f) = saved.clone().restore(ctx) {
                return Ok(f);
            }
        }
        // The newline keeps a trailing `// comment` in the expression from eating the `)`.
        let wrapped = if names.is_empty() {
            format!("(function($json) {{ return ({src}\n); }})")
        } else {
            let names = names
                .iter()
                .filter(|n| {
                    n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '$' || c == '_')
                })
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "(function($json, $$bound) {{ const {{ {names} }} = $$bound; return ({src}\n); }})"
            )
        };
        let func: Function = ctx
            .eval(wrapped)
            .map_err(|e| self.error(ctx, e, Duration::ZERO))?;
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key, Persistent::save(ctx, func.clone()));
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
/// the prelude and returns its Code node runner.
fn install<'js>(ctx: &Ctx<'js>, shared: &Rc<Shared>) -> rquickjs::Result<Function<'js>> {
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
                    "execution" => json!({"id": data.execution_id, "mode": data.execution_mode,
                                          "resumeUrl": data.resume_url}),
                    "prevNode" => match data.source.first() {
                        Some(Some(src)) => json!({
                            "name": src.previous_node,
                            "outputIndex": src.previous_node_output,
                            "runIndex": src.previous_node_run
                        }),
                        _ => Value::Null,
                    },
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
    let s = shared.clone();
    sy.set(
        "setItemIndex",
        Function::new(ctx.clone(), move |i: f64| {
            s.item_index.set(i.max(0.0) as usize)
        })?,
    )?;
    let s = shared.clone();
    sy.set(
        "context",
        Function::new(ctx.clone(), move |name: String, key: String| {
            with_data(&s, |data, _| {
                let contexts = data
                    .contexts
                    .lock()
                    .map_err(|_| "node contexts are unavailable".to_string())?;
                let context = contexts.get(&name);
                Ok(match (context, key.as_str()) {
                    (None, "") => json!({}),
                    (Some(c), "") => Value::Object(c.clone()),
                    (c, key) => c.and_then(|c| c.get(key)).cloned().unwrap_or(Value::Null),
                })
            })
        })?,
    )?;
    let s = shared.clone();
    sy.set(
        "dt",
        Function::new(ctx.clone(), move |op: String, args: String| {
            with_data(&s, |data, _| {
                let args: Vec<Value> = serde_json::from_str(&args).map_err(|e| e.to_string())?;
                date_op(&op, &args, &data.timezone)
            })
        })?,
    )?;
    ctx.globals().set("__sy", sy)?;
    let (module, done) = rquickjs::Module::declare(
        ctx.clone(),
        "switchyard:prelude",
        include_str!("prelude.js"),
    )?
    .eval()?;
    done.finish::<()>()?;
    module.get("runner")
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

/// The date functions the prelude's `DateTime` calls (`native.dt(op, args)`): the calendar and
/// zone rules of [`crate::datetime`], on instants given as milliseconds and zones by name.
fn date_op(op: &str, args: &[Value], default_zone: &str) -> Result<Value, String> {
    use crate::datetime::{self, Unit, Zone, ZonedTime};
    let zone = |i: usize| -> Result<Zone, String> {
        let name = args.get(i).and_then(Value::as_str).unwrap_or("");
        let name = if name.is_empty() { default_zone } else { name };
        let name = if name.is_empty() { "UTC" } else { name };
        Zone::parse(name).ok_or_else(|| format!("Invalid zone: unsupported zone \"{name}\""))
    };
    let ms = |i: usize| -> Result<i64, String> {
        args.get(i)
            .and_then(Value::as_f64)
            .filter(|f| f.is_finite())
            .map(|f| f as i64)
            .ok_or_else(|| "Invalid DateTime".to_string())
    };
    let time =
        |i: usize, z: usize| -> Result<ZonedTime, String> { Ok(ZonedTime::new(ms(i)?, zone(z)?)) };
    let text = |i: usize| args.get(i).and_then(Value::as_str).unwrap_or("");
    let unit = |v: &Value| {
        v.as_str()
            .and_then(Unit::parse)
            .ok_or_else(|| format!("Invalid unit {v}"))
    };
    let amounts = |i: usize| -> Result<Vec<(Unit, f64)>, String> {
        args.get(i)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|pair| {
                let u = unit(pair.get(0).unwrap_or(&Value::Null))?;
                let n = pair.get(1).and_then(Value::as_f64).unwrap_or(f64::NAN);
                if n.is_nan() {
                    return Err(format!("Invalid duration amount for {}", u.plural()));
                }
                Ok((u, n))
            })
            .collect()
    };
    let pairs = |list: Vec<(Unit, f64)>| {
        Value::Array(
            list.into_iter()
                .map(|(u, v)| json!([u.plural(), float(v)]))
                .collect(),
        )
    };
    Ok(match op {
        // No argument: the zone of the workflow.
        "defaultZone" => Value::String(zone(usize::MAX)?.name()),
        "zone" => Zone::parse(text(0)).map_or(Value::Null, |z| Value::String(z.name())),
        "parts" => {
            let t = time(0, 1)?;
            let p = t.parts();
            let (week_year, week) = t.iso_week();
            json!({
                "year": p.year, "month": p.month, "day": p.day, "hour": p.hour,
                "minute": p.minute, "second": p.second, "millisecond": p.millisecond,
                "weekday": t.weekday(), "ordinal": t.ordinal(), "weekNumber": week,
                "weekYear": week_year, "quarter": (p.month - 1) / 3 + 1, "offset": t.offset()
            })
        }
        "iso" => Value::String(time(0, 1)?.to_iso()),
        "format" => Value::String(time(0, 1)?.format(text(2))),
        "plus" => json!(time(0, 1)?.plus(&amounts(2)?).ms),
        "startOf" => json!(time(0, 1)?.start_of(unit(&args[2])?).ms),
        "endOf" => json!(time(0, 1)?.end_of(unit(&args[2])?).ms),
        "diff" => {
            let units: Vec<Unit> = args
                .get(3)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(unit)
                .collect::<Result<_, _>>()?;
            let this = time(0, 1)?;
            let other = ZonedTime::new(ms(2)?, this.zone);
            pairs(this.diff(&other, &units))
        }
        "fromISO" => {
            let keep = args.get(2).and_then(Value::as_bool).unwrap_or(false);
            match datetime::parse_iso(text(0), zone(1)?, keep) {
                Some(t) => json!([t.ms, t.zone.name()]),
                None => Value::Null,
            }
        }
        "parseLoose" => {
            datetime::parse_loose(text(0), zone(1)?).map_or(Value::Null, |t| json!(t.ms))
        }
        "fromFormat" => {
            datetime::parse_format(text(0), text(1), zone(2)?).map_or(Value::Null, |t| json!(t.ms))
        }
        "fromObject" => {
            let z = zone(1)?;
            let obj = args
                .first()
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let now = ZonedTime::new(chrono::Utc::now().timestamp_millis(), z).parts();
            let dated = ["year", "month", "day"]
                .iter()
                .any(|k| obj.contains_key(*k));
            let num = |k: &str, default: i64| -> Result<i64, String> {
                match obj.get(k) {
                    None | Some(Value::Null) => Ok(default),
                    Some(v) => v
                        .as_f64()
                        .map(|f| f as i64)
                        .ok_or_else(|| format!("Invalid value for {k}: {v}")),
                }
            };
            let (y, m, d) = if dated {
                (i64::from(now.year), 1, 1)
            } else {
                (
                    i64::from(now.year),
                    i64::from(now.month),
                    i64::from(now.day),
                )
            };
            let parts = datetime::Parts {
                year: num("year", y)? as i32,
                month: num("month", m)? as u32,
                day: num("day", d)? as u32,
                hour: num("hour", 0)? as u32,
                minute: num("minute", 0)? as u32,
                second: num("second", 0)? as u32,
                millisecond: num("millisecond", 0)? as u32,
            };
            ZonedTime::from_parts(parts, z).map_or(json!(f64::NAN), |t| json!(t.ms))
        }
        "durationMillis" => float(amounts(0)?.iter().map(|(u, v)| v * u.millis()).sum()),
        "durationIso" => Value::String(datetime::duration_iso(&amounts(0)?)),
        other => return Err(format!("unknown date operation {other}")),
    })
}

/// How the Code node runs its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeMode {
    /// Once, with every item (`runOnceForAllItems`).
    AllItems,
    /// Once per item (`runOnceForEachItem`).
    EachItem,
}

/// What a Code node run produced: its items, what it logged, and the error it stopped at, if
/// any (with continue-on-fail, `items` holds the `{json: {error}}` items as well).
#[derive(Debug, Default)]
pub struct CodeRun {
    /// The items it returned.
    pub items: Vec<Item>,
    /// What it logged (`console.log`).
    pub logs: Vec<String>,
    /// The error it stopped at.
    pub error: Option<CodeFailure>,
}

/// The runner's answer, as JSON.
#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    items: Vec<Item>,
    #[serde(default)]
    logs: Vec<String>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    failures: Vec<Failed>,
}

/// An item of `Answer::items` that stands for an error, with continue-on-fail.
#[derive(serde::Deserialize)]
struct Failed {
    at: usize,
    error: Value,
}

/// Why a Code node run failed, worded as n8n words it (`boom [line 3]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeFailure {
    /// The message, ending with `[line N]`, `[line N, for item I]` or `[item I]` when known.
    pub message: String,
    /// n8n's description: the error type (`TypeError`) or what to do about the output.
    pub description: Option<String>,
    /// The item being processed, in per-item mode.
    pub item_index: Option<usize>,
    /// Stopped by the time or memory limit rather than failing by itself.
    pub limit: Option<ExpressionErrorKind>,
}

/// Runs a Code node's JavaScript over `input_json` (the items as n8n-shaped JSON) in one call
/// into the sandbox, under the expression limits, against the execution view `data` (for
/// `$('Node')`, `$execution`, `$now` ...).
pub fn run_code(
    code: &str,
    mode: CodeMode,
    input_json: String,
    continue_on_fail: bool,
    data: &Arc<ExprData>,
) -> Result<CodeRun, CodeFailure> {
    let run = || {
        with_engine(|engine| Ok(engine.run_code(code, mode, input_json, continue_on_fail, data)))
            .unwrap_or_else(|e| {
                Err(CodeFailure {
                    message: e.message,
                    description: None,
                    item_index: None,
                    limit: None,
                })
            })
    };
    // A Code node may run for up to the time limit: hand the worker's other tasks to another
    // thread for that long rather than stall them.
    if on_async_worker() {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
}

impl Engine {
    fn run_code(
        &self,
        code: &str,
        mode: CodeMode,
        input_json: String,
        continue_on_fail: bool,
        data: &Arc<ExprData>,
    ) -> Result<CodeRun, CodeFailure> {
        let limit = Duration::from_millis(TIME_LIMIT_MS.load(Ordering::Relaxed));
        *self.shared.data.borrow_mut() = Some(data.clone());
        self.shared.item_index.set(0);
        self.shared.deadline.set(Some(Instant::now() + limit));
        self.shared.budget.set(None);
        let result = self.context.with(|ctx| {
            let outcome = self
                .call_runner(&ctx, code, mode, input_json, continue_on_fail)
                .map_err(|e| self.code_error(&ctx, e, limit, code));
            // Whatever the code left queued (a promise chain cut short by the time limit) must
            // not run later inside another node's evaluation: run it out now, past the
            // deadline, where every job stops at its first instruction.
            self.shared.deadline.set(Some(Instant::now()));
            let mut left = 0;
            while ctx.execute_pending_job() && left < 10_000 {
                left += 1;
            }
            let _ = ctx.catch();
            outcome
        });
        self.shared.deadline.set(None);
        *self.shared.data.borrow_mut() = None;
        let text = result?;
        // Straight into items: no intermediate JSON tree for ten thousand of them.
        let answer: Answer = serde_json::from_str(&text).map_err(|e| CodeFailure {
            message: format!("the code returned something n8n cannot hold as items: {e}"),
            description: None,
            item_index: None,
            limit: None,
        })?;
        let mut items = answer.items;
        // With continue-on-fail, error items carry n8n's full message (with the line).
        for f in answer.failures {
            let message = failure_of(&f.error, code).message;
            if let Some(item) = items.get_mut(f.at) {
                item.json.insert("error".into(), Value::String(message));
            }
        }
        let error = answer.error.map(|e| failure_of(&e, code));
        match error {
            Some(e) if !continue_on_fail => Err(e),
            error => Ok(CodeRun {
                items,
                logs: answer.logs,
                error,
            }),
        }
    }

    /// Compiles the code (cached) and calls the prelude's runner, driving the promise it
    /// returns to the end: the code may `await`.
    fn call_runner<'js>(
        &self,
        ctx: &Ctx<'js>,
        code: &str,
        mode: CodeMode,
        input_json: String,
        continue_on_fail: bool,
    ) -> Result<String, CodeCallError> {
        // The user's first line shares the wrapper's first line, so line numbers in errors
        // are the user's own. `items`/`item` are what n8n names them in each mode.
        let (params, mode_name) = match mode {
            CodeMode::AllItems => (
                "$input, items, $json, $binary, console, $getWorkflowStaticData",
                "runOnceForAllItems",
            ),
            CodeMode::EachItem => (
                "$input, item, $json, $binary, console, $getWorkflowStaticData",
                "runOnceForEachItem",
            ),
        };
        let source = format!("(async function ({params}) {{{code}\n}})");
        let func = match self.cache.borrow().get(&source) {
            Some(saved) => saved.clone().restore(ctx).ok(),
            None => None,
        };
        let func: Function = match func {
            Some(f) => f,
            None => {
                let f: Function = ctx.eval(source.clone()).map_err(CodeCallError::Compile)?;
                let mut cache = self.cache.borrow_mut();
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
                cache.insert(source, Persistent::save(ctx, f.clone()));
                f
            }
        };
        let runner = self
            .runner
            .clone()
            .restore(ctx)
            .map_err(CodeCallError::Run)?;
        let input =
            rquickjs::String::from_str(ctx.clone(), &input_json).map_err(CodeCallError::Run)?;
        let promise: rquickjs::Promise = runner
            .call((func, mode_name, input, continue_on_fail))
            .map_err(CodeCallError::Run)?;
        promise.finish::<String>().map_err(|e| match e {
            rquickjs::Error::WouldBlock => CodeCallError::NeverSettles,
            other => CodeCallError::Run(other),
        })
    }

    fn code_error(
        &self,
        ctx: &Ctx<'_>,
        e: CodeCallError,
        limit: Duration,
        code: &str,
    ) -> CodeFailure {
        let failure = |message: String, description: Option<String>, limit| CodeFailure {
            message,
            description,
            item_index: None,
            limit,
        };
        let e = match e {
            CodeCallError::NeverSettles => {
                return failure(
                    "The code waits for something that never happens: a promise that is never \
                     resolved (there are no timers or network calls in the sandbox)"
                        .into(),
                    None,
                    None,
                )
            }
            CodeCallError::Compile(e) | CodeCallError::Run(e) => e,
        };
        let timed_out = self
            .shared
            .deadline
            .get()
            .is_some_and(|d| Instant::now() >= d);
        let timeout = || {
            failure(
                format!(
                    "The code took longer than {} ms and was stopped",
                    limit.as_millis()
                ),
                Some("Make the code do less per run, or raise the expression time limit".into()),
                Some(ExpressionErrorKind::Timeout),
            )
        };
        let memory = || {
            ctx.run_gc();
            failure(
                "The code used more memory than allowed and was stopped".into(),
                Some("Process fewer items per run, or raise the expression memory limit".into()),
                Some(ExpressionErrorKind::Memory),
            )
        };
        match e {
            rquickjs::Error::Exception => {
                let exception = ctx.catch();
                if timed_out {
                    return timeout();
                }
                let (name, message, stack) = exception_parts(&exception);
                if message.contains("out of memory") {
                    return memory();
                }
                code_failure(&name, &message, &stack, None, code)
            }
            rquickjs::Error::Allocation => memory(),
            _ if timed_out => timeout(),
            other => failure(other.to_string(), None, None),
        }
    }
}

/// The name, message and stack of a thrown value.
fn exception_parts(v: &JsValue<'_>) -> (String, String, String) {
    match v.as_object() {
        Some(obj) => (
            obj.get("name").unwrap_or_else(|_| "Error".into()),
            obj.get("message").unwrap_or_default(),
            obj.get("stack").unwrap_or_default(),
        ),
        None => {
            let text = from_js(v, 0)
                .map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .unwrap_or_else(|_| "an exception was thrown".into());
            ("Error".into(), text, String::new())
        }
    }
}

/// Why calling the runner failed.
enum CodeCallError {
    /// The code does not compile.
    Compile(rquickjs::Error),
    /// The runner (or the code, uncaught) threw, or a limit stopped it.
    Run(rquickjs::Error),
    /// The promise never settled.
    NeverSettles,
}

/// The error the runner reports as JSON (`{name, message, stack, itemIndex}` for something
/// thrown, `{invalid, message, description, itemIndex}` for output n8n would refuse).
fn failure_of(e: &Value, code: &str) -> CodeFailure {
    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
    let item_index = e
        .get("itemIndex")
        .and_then(Value::as_u64)
        .map(|i| i as usize);
    if e.get("invalid").and_then(Value::as_bool) == Some(true) {
        let suffix = item_index
            .map(|i| format!(" [item {i}]"))
            .unwrap_or_default();
        return CodeFailure {
            message: format!("{}{suffix}", text("message")),
            description: Some(text("description").to_string()).filter(|d| !d.is_empty()),
            item_index,
            limit: None,
        };
    }
    code_failure(
        text("name"),
        text("message"),
        text("stack"),
        item_index,
        code,
    )
}

/// n8n's `ExecutionError`: the message with the user's line (`[line 3]`, or
/// `[line 3, for item 0]`), the error type as description unless it is a plain `Error`.
fn code_failure(
    name: &str,
    message: &str,
    stack: &str,
    item_index: Option<usize>,
    code: &str,
) -> CodeFailure {
    let line = user_line(stack).map(|l| refine_line(code, l, message));
    let message = v8_wording(message);
    let location = match (line, item_index) {
        (Some(l), Some(i)) => format!(" [line {l}, for item {i}]"),
        (Some(l), None) => format!(" [line {l}]"),
        (None, Some(i)) => format!(" [item {i}]"),
        (None, None) => String::new(),
    };
    CodeFailure {
        message: format!("{message}{location}"),
        description: (!name.is_empty() && name != "Error").then(|| name.to_string()),
        item_index,
        limit: None,
    }
}

/// The line of the user's code a stack trace points at: the first frame in the user's code
/// (the prelude's frames belong to the module `switchyard:prelude`).
fn user_line(stack: &str) -> Option<usize> {
    stack.lines().find_map(|l| {
        let at = l.find("eval_script:")?;
        l[at + "eval_script:".len()..]
            .split(':')
            .next()?
            .parse()
            .ok()
    })
}

/// QuickJS records source positions only at calls, operators and expression statements, so
/// an error inside a declaration or a `return` (`const y = x.deep;`) reports the last position
/// before it. The real line is at or after that one: the first from there that mentions what
/// the message names (the property read, the undefined variable).
fn refine_line(code: &str, reported: usize, message: &str) -> usize {
    let property = ["cannot read property '", "cannot set property '"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split_once('\'').map(|(name, _)| name.to_string()));
    let variable = message
        .strip_suffix(" is not defined")
        .map(|n| n.trim_matches('\'').to_string());
    let word = |line: &str, w: &str| {
        line.match_indices(w).any(|(at, _)| {
            let before = line[..at].chars().next_back();
            let after = line[at + w.len()..].chars().next();
            let ident =
                |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
            !ident(before) && !ident(after)
        })
    };
    let mentions = |line: &str| match (&property, &variable) {
        (Some(p), _) => {
            line.contains(&format!("['{p}']"))
                || line.contains(&format!("[\"{p}\"]"))
                || line
                    .match_indices(&format!(".{p}"))
                    .any(|(at, _)| word(&line[at + 1..], p))
        }
        (None, Some(v)) => word(line, v),
        (None, None) => false,
    };
    code.lines()
        .enumerate()
        .skip(reported.saturating_sub(1))
        .find(|(_, line)| mentions(line))
        .map_or(reported, |(i, _)| i + 1)
}

/// QuickJS words some errors differently from V8 (n8n's engine); users search for V8's words.
fn v8_wording(message: &str) -> String {
    // "cannot read property 'x' of undefined" -> "Cannot read properties of undefined (reading 'x')"
    if let Some(rest) = message.strip_prefix("cannot read property ") {
        if let Some((prop, of)) = rest.rsplit_once(" of ") {
            return format!("Cannot read properties of {of} (reading {prop})");
        }
    }
    if let Some(rest) = message.strip_prefix("cannot set property ") {
        if let Some((prop, of)) = rest.rsplit_once(" of ") {
            return format!("Cannot set properties of {of} (setting {prop})");
        }
    }
    if let Some(name) = message
        .strip_suffix(" is not defined")
        .and_then(|n| n.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')))
    {
        return format!("{name} is not defined");
    }
    message.to_string()
}
