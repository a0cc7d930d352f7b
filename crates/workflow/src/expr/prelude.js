// Switchyard expression prelude: n8n's expression variables over native accessors, a small
// Luxon-like DateTime, then everything frozen so one evaluation cannot change the next.
(function () {
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
  }

  const input = Object.freeze({
    get item() { return unwrap(native.input('item')); },
    first() { return unwrap(native.input('first')); },
    last() { return unwrap(native.input('last')); },
    all() { return unwrap(native.input('all')); },
  });

  const UNITS = {
    year: 'year', years: 'year', month: 'month', months: 'month', week: 'week', weeks: 'week',
    day: 'day', days: 'day', hour: 'hour', hours: 'hour', minute: 'minute', minutes: 'minute',
    second: 'second', seconds: 'second', millisecond: 'millisecond', milliseconds: 'millisecond',
  };
  const MS = { week: 604800000, day: 86400000, hour: 3600000, minute: 60000, second: 1000, millisecond: 1 };
  const pad = (n, w) => String(n).padStart(w, '0');

  // A UTC DateTime with the parts of Luxon's API that workflows commonly use.
  class DateTime {
    constructor(ms) { this.ts = ms; Object.freeze(this); }
    static now() { return new DateTime(Date.now()); }
    static fromMillis(ms) { return new DateTime(Number(ms)); }
    static fromSeconds(s) { return new DateTime(Number(s) * 1000); }
    static fromISO(s) { return new DateTime(Date.parse(s)); }
    static fromJSDate(d) { return new DateTime(d.getTime()); }
    get d() { return new Date(this.ts); }
    get isValid() { return !Number.isNaN(this.ts); }
    get year() { return this.d.getUTCFullYear(); }
    get month() { return this.d.getUTCMonth() + 1; }
    get day() { return this.d.getUTCDate(); }
    get hour() { return this.d.getUTCHours(); }
    get minute() { return this.d.getUTCMinutes(); }
    get second() { return this.d.getUTCSeconds(); }
    get millisecond() { return this.d.getUTCMilliseconds(); }
    get weekday() { return this.d.getUTCDay() || 7; }
    toMillis() { return this.ts; }
    toSeconds() { return this.ts / 1000; }
    valueOf() { return this.ts; }
    toJSDate() { return new Date(this.ts); }
    toISO() { return this.d.toISOString(); }
    toISODate() { return this.toISO().slice(0, 10); }
    toJSON() { return this.toISO(); }
    toString() { return this.toISO(); }
    toFormat(fmt) {
      const d = this;
      const tokens = {
        yyyy: () => pad(d.year, 4), yy: () => pad(d.year % 100, 2), MM: () => pad(d.month, 2),
        M: () => String(d.month), dd: () => pad(d.day, 2), d: () => String(d.day),
        HH: () => pad(d.hour, 2), H: () => String(d.hour), mm: () => pad(d.minute, 2),
        m: () => String(d.minute), ss: () => pad(d.second, 2), s: () => String(d.second),
        SSS: () => pad(d.millisecond, 3),
      };
      return String(fmt).replace(/'([^']*)'|yyyy|yy|MM|M|dd|d|HH|H|mm|m|ss|s|SSS/g,
        (t, lit) => (lit !== undefined ? lit : tokens[t]()));
    }
    plus(amount, unit) {
      const parts = typeof amount === 'object' ? amount : { [unit]: amount };
      const d = this.d;
      let ts = this.ts;
      for (const [k, v] of Object.entries(parts)) {
        const u = UNITS[k];
        if (u === 'year') { d.setUTCFullYear(d.getUTCFullYear() + v); ts = d.getTime(); }
        else if (u === 'month') { d.setUTCMonth(d.getUTCMonth() + v); ts = d.getTime(); }
        else if (u) { ts += v * MS[u]; d.setTime(ts); }
        else throw new Error('unknown unit: ' + k);
      }
      return new DateTime(ts);
    }
    minus(amount, unit) {
      if (typeof amount === 'object') {
        const neg = {};
        for (const [k, v] of Object.entries(amount)) neg[k] = -v;
        return this.plus(neg);
      }
      return this.plus(-amount, unit);
    }
    startOf(unit) {
      const d = this.d;
      switch (UNITS[unit]) {
        case 'year': d.setUTCMonth(0, 1); d.setUTCHours(0, 0, 0, 0); break;
        case 'month': d.setUTCDate(1); d.setUTCHours(0, 0, 0, 0); break;
        case 'week': d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() || 7) - 1)); d.setUTCHours(0, 0, 0, 0); break;
        case 'day': d.setUTCHours(0, 0, 0, 0); break;
        case 'hour': d.setUTCMinutes(0, 0, 0); break;
        case 'minute': d.setUTCSeconds(0, 0); break;
        case 'second': d.setUTCMilliseconds(0); break;
        default: throw new Error('unknown unit: ' + unit);
      }
      return new DateTime(d.getTime());
    }
    endOf(unit) { return this.startOf(unit).plus(1, unit).minus(1, 'millisecond'); }
    diff(other, unit) {
      const ms = this.ts - other.ts;
      const u = UNITS[unit || 'millisecond'];
      return { [unit || 'milliseconds']: ms / (MS[u] || 1) };
    }
    equals(other) { return other instanceof DateTime && other.ts === this.ts; }
  }

  const nodeProxy = new Proxy({}, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      return Object.freeze({
        get json() { return unwrap(native.node(name, 'json', 0, -1)).json; },
        get binary() { return unwrap(native.node(name, 'json', 0, -1)).binary || {}; },
      });
    },
  });

  const define = (name, get) => Object.defineProperty(globalThis, name, { get, enumerable: false, configurable: false });
  Object.defineProperty(globalThis, '$', { value: (name) => new NodeRef(name), writable: false, configurable: false });
  Object.defineProperty(globalThis, 'DateTime', { value: DateTime, writable: false, configurable: false });
  define('$input', () => input);
  define('$binary', () => unwrap(native.input('binary')));
  define('$itemIndex', () => native.itemIndex());
  define('$runIndex', () => native.runIndex());
  define('$execution', () => unwrap(native.meta('execution')));
  define('$workflow', () => unwrap(native.meta('workflow')));
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
    Object.getPrototypeOf([][Symbol.iterator]()), Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()))]) {
    Object.freeze(proto);
  }
  Object.freeze(globalThis);
})();
