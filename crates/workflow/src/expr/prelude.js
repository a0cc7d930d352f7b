// Switchyard expression prelude: n8n's expression variables over native accessors, Luxon's
// DateTime over the engine's date functions, the Code node's runner, then everything frozen so
// one evaluation cannot change the next. Evaluated once per runtime as the module
// "switchyard:prelude", so that its stack frames are told apart from user code's.
'use strict';
const native = globalThis.__sy;
delete globalThis.__sy;
const unwrap = (text) => {
  const r = JSON.parse(text);
  if (Object.prototype.hasOwnProperty.call(r, 'e')) throw new Error(r.e);
  return r.v;
};

// An optional branch or run index argument: -1 when not given.
const opt = (n) => (n === undefined || n === null ? -1 : Number(n));

// `$('Node').context`: the node's context (Loop Over Items' `noItemsLeft`, `currentRunIndex`),
// read key by key from the execution.
const contextOf = (name) => new Proxy({}, {
  get(_, key) {
    if (typeof key !== 'string') return undefined;
    if (key === 'toJSON') return () => unwrap(native.context(name, ''));
    return unwrap(native.context(name, key)) ?? undefined;
  },
  has(_, key) { return typeof key === 'string' && Object.keys(unwrap(native.context(name, ''))).includes(key); },
  ownKeys() { return Object.keys(unwrap(native.context(name, ''))); },
  getOwnPropertyDescriptor(_, key) {
    const all = unwrap(native.context(name, ''));
    if (!Object.prototype.hasOwnProperty.call(all, key)) return undefined;
    return { value: all[key], enumerable: true, configurable: true, writable: false };
  },
});

class NodeRef {
  constructor(name) { this.name = String(name); }
  get item() { return unwrap(native.node(this.name, 'item', 0, -1)); }
  first(branch, run) { return unwrap(native.node(this.name, 'first', opt(branch), opt(run))); }
  last(branch, run) { return unwrap(native.node(this.name, 'last', opt(branch), opt(run))); }
  all(branch, run) { return unwrap(native.node(this.name, 'all', opt(branch), opt(run))); }
  itemMatching(i) { return unwrap(native.node(this.name, 'match', Number(i), -1)); }
  pairedItem(i) { return this.itemMatching(i === undefined ? native.itemIndex() : i); }
  // A property in n8n, not a method.
  get isExecuted() { return unwrap(native.node(this.name, 'executed', 0, -1)); }
  get context() { return contextOf(this.name); }
}

const input = Object.freeze({
  get item() { return unwrap(native.input('item')); },
  first() { return unwrap(native.input('first')); },
  last() { return unwrap(native.input('last')); },
  all() { return unwrap(native.input('all')); },
});

// ---------------------------------------------------------------------------------------
// Luxon's DateTime and Duration: the instant and zone live here, the calendar and the zone
// rules in the engine (`native.dt`), shared with the Date & Time node.
const dt = (op, ...args) => unwrap(native.dt(op, JSON.stringify(args)));
const UNIT_NAMES = ['years', 'quarters', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds', 'milliseconds'];
const unitName = (u) => {
  const s = String(u);
  const plural = s.endsWith('s') ? s : s + 's';
  if (!UNIT_NAMES.includes(plural)) throw new Error('Invalid unit ' + s);
  return plural;
};
const amounts = (arg, unit) => {
  if (arg instanceof Duration) return Object.entries(arg.values);
  if (typeof arg === 'number') return [[unitName(unit === undefined ? 'milliseconds' : unit), arg]];
  if (arg && typeof arg === 'object') return Object.entries(arg).map(([k, v]) => [unitName(k), Number(v)]);
  throw new Error('Invalid duration ' + String(arg));
};
const defaultZone = () => dt('defaultZone');
const zoneOf = (opts) => (opts && opts.zone !== undefined ? String(opts.zone) : defaultZone());

class Duration {
  constructor(values) {
    this.values = Object.freeze(values);
    Object.freeze(this);
  }
  static fromObject(obj) { return new Duration(Object.fromEntries(amounts(obj))); }
  static fromMillis(ms) { return new Duration({ milliseconds: Number(ms) }); }
  static isDuration(d) { return d instanceof Duration; }
  get years() { return this.values.years || 0; }
  get quarters() { return this.values.quarters || 0; }
  get months() { return this.values.months || 0; }
  get weeks() { return this.values.weeks || 0; }
  get days() { return this.values.days || 0; }
  get hours() { return this.values.hours || 0; }
  get minutes() { return this.values.minutes || 0; }
  get seconds() { return this.values.seconds || 0; }
  get milliseconds() { return this.values.milliseconds || 0; }
  get isValid() { return true; }
  toObject() { return { ...this.values }; }
  toMillis() { return dt('durationMillis', Object.entries(this.values)); }
  as(unit) { return this.toMillis() / dt('durationMillis', [[unitName(unit), 1]]); }
  get(unit) { return this.values[unitName(unit)] || 0; }
  negate() { return new Duration(Object.fromEntries(Object.entries(this.values).map(([k, v]) => [k, -v]))); }
  toISO() { return dt('durationIso', Object.entries(this.values)); }
  toJSON() { return this.toISO(); }
  toString() { return this.toISO(); }
  valueOf() { return this.toMillis(); }
}

class DateTime {
  constructor(ts, zone) {
    this.ts = ts;
    this.zoneName = zone;
    Object.freeze(this);
  }
  static now() { return new DateTime(Date.now(), defaultZone()); }
  static local(...a) { return DateTime.fromParts(a, defaultZone()); }
  static utc(...a) { return a.length ? DateTime.fromParts(a, 'UTC') : new DateTime(Date.now(), 'UTC'); }
  static fromParts(a, zone) {
    const [year, month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0] = a;
    return DateTime.fromObject({ year, month, day, hour, minute, second, millisecond }, { zone });
  }
  static fromObject(obj, opts) {
    const zone = zoneOf(opts);
    const ms = dt('fromObject', obj || {}, zone);
    return new DateTime(ms === null ? NaN : ms, zone);
  }
  static fromMillis(ms, opts) { return new DateTime(Number(ms), zoneOf(opts)); }
  static fromSeconds(s, opts) { return new DateTime(Number(s) * 1000, zoneOf(opts)); }
  static fromJSDate(d, opts) { return new DateTime(d.getTime(), zoneOf(opts)); }
  static fromISO(s, opts) {
    const r = dt('fromISO', String(s), zoneOf(opts), Boolean(opts && opts.setZone));
    return r ? new DateTime(r[0], r[1]) : DateTime.invalid('unparsable');
  }
  static fromSQL(s, opts) { return DateTime.fromISO(String(s).replace(' ', 'T'), opts); }
  static fromRFC2822(s, opts) {
    const r = dt('parseLoose', String(s), zoneOf(opts));
    return r === null ? DateTime.invalid('unparsable') : new DateTime(r, zoneOf(opts));
  }
  static fromHTTP(s, opts) { return DateTime.fromRFC2822(s, opts); }
  static fromFormat(s, fmt, opts) {
    const r = dt('fromFormat', String(s), String(fmt), zoneOf(opts));
    return r === null ? DateTime.invalid('unparsable') : new DateTime(r, zoneOf(opts));
  }
  static invalid() { return new DateTime(NaN, 'UTC'); }
  static isDateTime(d) { return d instanceof DateTime; }
  get isValid() { return !Number.isNaN(this.ts); }
  get p() { return dt('parts', this.ts, this.zoneName); }
  get year() { return this.p.year; }
  get month() { return this.p.month; }
  get day() { return this.p.day; }
  get hour() { return this.p.hour; }
  get minute() { return this.p.minute; }
  get second() { return this.p.second; }
  get millisecond() { return this.p.millisecond; }
  get weekday() { return this.p.weekday; }
  get weekNumber() { return this.p.weekNumber; }
  get weekYear() { return this.p.weekYear; }
  get ordinal() { return this.p.ordinal; }
  get quarter() { return this.p.quarter; }
  get offset() { return this.p.offset; }
  get daysInMonth() { return this.endOf('month').day; }
  get monthLong() { return this.toFormat('LLLL'); }
  get monthShort() { return this.toFormat('LLL'); }
  get weekdayLong() { return this.toFormat('cccc'); }
  get weekdayShort() { return this.toFormat('ccc'); }
  get zone() { return { name: this.zoneName }; }
  get(unit) { return this.p[String(unit)]; }
  toMillis() { return this.ts; }
  toSeconds() { return this.ts / 1000; }
  toUnixInteger() { return Math.floor(this.ts / 1000); }
  valueOf() { return this.ts; }
  toJSDate() { return new Date(this.ts); }
  toISO() { return this.isValid ? dt('iso', this.ts, this.zoneName) : null; }
  toISODate() { return this.isValid ? this.toFormat('yyyy-MM-dd') : null; }
  toISOTime() { return this.isValid ? this.toFormat('HH:mm:ss.SSSZZ') : null; }
  toSQLDate() { return this.toISODate(); }
  toJSON() { return this.toISO(); }
  toString() { return this.isValid ? this.toISO() : 'Invalid DateTime'; }
  toLocaleString() { return this.toFormat('D'); }
  toObject() { const { year, month, day, hour, minute, second, millisecond } = this.p; return { year, month, day, hour, minute, second, millisecond }; }
  toFormat(fmt) { return this.isValid ? dt('format', this.ts, this.zoneName, String(fmt)) : 'Invalid DateTime'; }
  setZone(zone, opts) {
    const name = dt('zone', zone === undefined ? 'UTC' : String(zone));
    if (name === null) return DateTime.invalid('unsupported zone');
    if (opts && opts.keepLocalTime) return DateTime.fromObject(this.toObject(), { zone: name });
    return new DateTime(this.ts, name);
  }
  toUTC() { return this.setZone('UTC'); }
  toLocal() { return this.setZone(defaultZone()); }
  plus(arg, unit) { return new DateTime(dt('plus', this.ts, this.zoneName, amounts(arg, unit)), this.zoneName); }
  minus(arg, unit) {
    return new DateTime(dt('plus', this.ts, this.zoneName, amounts(arg, unit).map(([k, v]) => [k, -v])), this.zoneName);
  }
  set(values) { return DateTime.fromObject({ ...this.toObject(), ...values }, { zone: this.zoneName }); }
  startOf(unit) { return new DateTime(dt('startOf', this.ts, this.zoneName, unitName(unit)), this.zoneName); }
  endOf(unit) { return new DateTime(dt('endOf', this.ts, this.zoneName, unitName(unit)), this.zoneName); }
  diff(other, units) {
    const list = units === undefined ? ['milliseconds'] : (Array.isArray(units) ? units : [units]).map(unitName);
    return new Duration(Object.fromEntries(dt('diff', this.ts, this.zoneName, other.ts, list)));
  }
  diffNow(units) { return this.diff(DateTime.now(), units); }
  equals(other) { return other instanceof DateTime && other.ts === this.ts && other.zoneName === this.zoneName; }
  hasSame(other, unit) { return this.startOf(unit).ts === other.setZone(this.zoneName).startOf(unit).ts; }
}

const nodeProxy = new Proxy({}, {
  get(_, name) {
    if (typeof name !== 'string') return undefined;
    return Object.freeze({
      get json() { return unwrap(native.node(name, 'json', 0, -1)).json; },
      get binary() { return unwrap(native.node(name, 'json', 0, -1)).binary || {}; },
      get context() { return contextOf(name); },
    });
  },
});

// ---------------------------------------------------------------------------------------
// The Code node: one call runs the user's function over every item, validates and normalises
// what it returns as n8n does, and hands back JSON.
const N8N_ITEM_KEYS = ['json', 'binary', 'pairedItem', 'error', 'index'];
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const describeLog = (v) => {
  if (typeof v === 'string') return v;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s;
  } catch (e) {
    return String(v);
  }
};
// A problem with what the code returned (n8n's ValidationError); not a JavaScript error.
const invalid = (message, description, itemIndex) => ({ invalid: true, message, description, itemIndex });

function checkTopLevelKeys(item, index) {
  let reserved = null;
  const unknown = [];
  for (const key of Object.keys(item)) {
    if (N8N_ITEM_KEYS.includes(key)) reserved = reserved ?? key;
    else unknown.push(key);
  }
  if (unknown.length === 0) return;
  if (reserved !== null) {
    throw invalid('Invalid output format',
      `An output item contains the reserved key <code>${reserved}</code>. To get around this, please wrap each item in an object, under a key called <code>json</code>.`,
      index);
  }
  throw invalid(`Unknown top-level item key: ${unknown[0]}`,
    'Access the properties of an item under `.json`, e.g. `item.json`', index);
}

// n8n-core's normalizeItems: plain objects are wrapped in `json`.
function normalize(data) {
  const has = (item, key) => item !== null && typeof item === 'object' && key in item;
  if (!Array.isArray(data)) data = data.json ? [data] : [{ json: data }];
  if (data.every((i) => has(i, 'json'))) return data;
  if (data.some((i) => has(i, 'json'))) throw invalid('Inconsistent item format', undefined, undefined);
  if (data.every((i) => has(i, 'binary'))) {
    return data.map((i) => {
      const json = {};
      for (const key of Object.keys(i)) if (key !== 'binary') json[key] = i[key];
      return { json, binary: i.binary };
    });
  }
  if (data.some((i) => has(i, 'binary'))) throw invalid('Inconsistent item format', undefined, undefined);
  return data.map((json) => ({ json }));
}

function checkItem(item, index) {
  if (!isObject(item.json)) {
    throw invalid("A 'json' property isn't an object",
      "In the returned data, every key named 'json' must point to an object.", index);
  }
  if (item.binary !== undefined && !isObject(item.binary)) {
    throw invalid("A 'binary' property isn't an object",
      "In the returned data, every key named 'binary' must point to an object.", index);
  }
}

function allItemsOutput(result) {
  if (result === null) return [];
  if (typeof result !== 'object') {
    throw invalid("Code doesn't return items properly",
      'Please return an array of objects, one for each item you would like to output.', undefined);
  }
  if (Array.isArray(result) && result.some((i) => isObject(i) && Object.keys(i).some((k) => N8N_ITEM_KEYS.includes(k)))) {
    result.forEach((item, index) => checkTopLevelKeys(isObject(item) ? item : {}, index));
  }
  const items = normalize(result);
  items.forEach(checkItem);
  // Only n8n's item keys are left at this point; JSON carries what the engine reads.
  return items;
}

function eachItemOutput(result, index) {
  if (typeof result !== 'object') {
    throw invalid("Code doesn't return an object",
      `Please return an object representing the output item. ('${result}' was returned instead.)`, index);
  }
  if (Array.isArray(result)) {
    const first = result.length > 0 ? `An array of ${typeof result[0]}s was returned.` : 'An empty array was returned.';
    throw invalid("Code doesn't return a single object",
      `${first} If you need to output multiple items, please use the 'Run Once for All Items' mode instead.`, index);
  }
  const [item] = normalize([result]);
  checkItem(item, index);
  checkTopLevelKeys(item, index);
  const out = { json: item.json, pairedItem: { item: index } };
  if (item.binary !== undefined) out.binary = item.binary;
  return out;
}

// What a thrown value says, with the stack for the line number.
const thrown = (e, index) => {
  if (e && e.invalid) return { ...e };
  if (e instanceof Error) {
    return { name: e.name, message: String(e.message), stack: String(e.stack || ''), itemIndex: index };
  }
  return { name: 'Error', message: describeLog(e), stack: '', itemIndex: index };
};

const noStaticData = () => {
  throw new Error('$getWorkflowStaticData is not available in Switchyard: static data is not kept between executions yet');
};

// Runs `fn` (the user's code, compiled as an async function of the Code node's variables)
// once for all items or once per item. Resolves to JSON text: `{items, logs}` or
// `{error, logs}`; with `continueOnFail` errors become `{json: {error}}` items, as in n8n.
async function runCode(fn, mode, inputText, continueOnFail) {
  const items = JSON.parse(inputText);
  const logs = [];
  const failures = [];
  const log = (...args) => { logs.push(args.map(describeLog).join(' ')); };
  const console = Object.freeze({ log, info: log, warn: log, error: log, debug: log });
  const done = (body) => JSON.stringify({ ...body, logs, failures });
  if (mode === 'runOnceForAllItems') {
    const $input = Object.freeze({
      all: () => items, first: () => items[0], last: () => items[items.length - 1], get item() { return items[0]; },
    });
    try {
      const first = items[0] || { json: {} };
      const result = await fn.call(undefined, $input, items, first.json, first.binary || {}, console, noStaticData);
      return done({ items: allItemsOutput(result) });
    } catch (e) {
      const error = thrown(e, undefined);
      if (!continueOnFail) return done({ error });
      failures.push({ at: 0, error });
      return done({ items: [{ json: { error: error.message } }], error });
    }
  }
  const out = [];
  for (let index = 0; index < items.length; index++) {
    native.setItemIndex(index);
    const item = items[index];
    const $input = Object.freeze({ get item() { return item; } });
    try {
      const result = await fn.call(undefined, $input, item, item.json, item.binary || {}, console, noStaticData);
      if (result === null) continue;
      out.push(eachItemOutput(result, index));
    } catch (e) {
      const error = thrown(e, index);
      if (!continueOnFail) return done({ error });
      failures.push({ at: out.length, error });
      out.push({ json: { error: error.message }, pairedItem: { item: index } });
    }
  }
  return done({ items: out });
}

// ---------------------------------------------------------------------------------------
const define = (name, get) => Object.defineProperty(globalThis, name, { get, enumerable: false, configurable: false });
Object.defineProperty(globalThis, '$', { value: (name) => new NodeRef(name), writable: false, configurable: false });
Object.defineProperty(globalThis, 'DateTime', { value: DateTime, writable: false, configurable: false });
Object.defineProperty(globalThis, 'Duration', { value: Duration, writable: false, configurable: false });
define('$input', () => input);
define('$binary', () => unwrap(native.input('binary')));
define('$itemIndex', () => native.itemIndex());
define('$runIndex', () => native.runIndex());
define('$execution', () => unwrap(native.meta('execution')));
define('$workflow', () => unwrap(native.meta('workflow')));
define('$prevNode', () => unwrap(native.meta('prevNode')));
define('$node', () => nodeProxy);
define('$now', () => DateTime.now());
define('$today', () => DateTime.now().startOf('day'));

for (const name of Object.getOwnPropertyNames(globalThis)) {
  const desc = Object.getOwnPropertyDescriptor(globalThis, name);
  if (!('value' in desc)) continue;
  const v = desc.value;
  if ((typeof v === 'function' || typeof v === 'object') && v !== null) {
    Object.freeze(v);
    if (v.prototype) Object.freeze(v.prototype);
  }
}
for (const proto of [Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function () {}),
  Object.getPrototypeOf([][Symbol.iterator]()), Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
  Object.getPrototypeOf(Promise.resolve())]) {
  Object.freeze(proto);
}
Object.freeze(Duration.prototype);
Object.freeze(DateTime.prototype);
Object.freeze(NodeRef.prototype);
Object.freeze(globalThis);

export const runner = runCode;
