//! Realistic records, generated fast and deterministically (a fixed RNG
//! seed), so demos and benchmarks see the same org every run.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::schema::Schema;
use crate::store::{Store, WriteCtx};

const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
];
const SUFFIXES: &[&str] = &[
    "Corp", "Inc", "Ltd", "GmbH", "Group", "Holdings", "Labs", "Systems",
];
const FIRST: &[&str] = &[
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "John",
    "Radia", "Edsger",
];
const LAST: &[&str] = &[
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
    "Allen", "Backus", "Perlman", "Dijkstra",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("San Francisco", "CA", "United States"),
    ("Austin", "TX", "United States"),
    ("London", "", "United Kingdom"),
    ("Berlin", "", "Germany"),
    ("Paris", "", "France"),
    ("Toronto", "ON", "Canada"),
];
const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Banking",
    "Education",
    "Electronics",
    "Energy",
    "Finance",
    "Retail",
    "Technology",
];
const STAGES: &[&str] = &[
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
];

fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list.choose(rng).copied().unwrap_or_default()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Creates `n` records each of Account, Contact, Lead, Opportunity, Case and Task.
pub(crate) fn seed(store: &mut Store, schema: &Schema, n: usize, rng_seed: u64, ctx: &WriteCtx) {
    let mut rng = StdRng::seed_from_u64(rng_seed);
    let idx = |name: &str| schema.index_of(name).expect("standard object");
    let (account, contact, lead, opp, case, task) = (
        idx("Account"),
        idx("Contact"),
        idx("Lead"),
        idx("Opportunity"),
        idx("Case"),
        idx("Task"),
    );
    // Seeding goes through the same validation as the API; a failure here is
    // a bug in the generator, so it is skipped rather than aborting start-up.
    let mut undo = Vec::new();
    let mut accounts = Vec::with_capacity(n);
    for i in 0..n {
        let (city, state, country) = *CITIES.choose(&mut rng).unwrap_or(&CITIES[0]);
        let name = format!(
            "{} {} {}",
            pick(&mut rng, COMPANIES),
            pick(&mut rng, SUFFIXES),
            i + 1
        );
        let body = obj(json!({
            "Name": name,
            "Type": pick(&mut rng, &["Prospect", "Customer - Direct", "Customer - Channel", "Partner"]),
            "Industry": pick(&mut rng, INDUSTRIES),
            "BillingCity": city,
            "BillingState": if state.is_empty() { Value::Null } else { json!(state) },
            "BillingCountry": country,
            "Phone": format!("(555) {:03}-{:04}", rng.gen_range(100..999), rng.gen_range(0..9999)),
            "Website": format!("https://www.example{}.com", i + 1),
            "AnnualRevenue": rng.gen_range(1..500) * 100_000,
            "NumberOfEmployees": rng.gen_range(5..20_000),
        }));
        if let Ok(id) = store.create(schema, account, &body, ctx, &mut undo) {
            accounts.push(id);
        }
        undo.clear();
    }
    for i in 0..n {
        let (first, last) = (pick(&mut rng, FIRST), pick(&mut rng, LAST));
        let account_id = accounts
            .get(i)
            .cloned()
            .map(Value::String)
            .unwrap_or(Value::Null);
        let body = obj(json!({
            "FirstName": first,
            "LastName": last,
            "AccountId": account_id,
            "Email": format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), i + 1),
            "Title": pick(&mut rng, &["CEO", "CTO", "VP Sales", "Engineer", "Buyer", "Analyst"]),
            "Phone": format!("(555) {:03}-{:04}", rng.gen_range(100..999), rng.gen_range(0..9999)),
        }));
        let _ = store.create(schema, contact, &body, ctx, &mut undo);
        undo.clear();
        let body = obj(json!({
            "FirstName": pick(&mut rng, FIRST),
            "LastName": pick(&mut rng, LAST),
            "Company": format!("{} {}", pick(&mut rng, COMPANIES), pick(&mut rng, SUFFIXES)),
            "Status": pick(&mut rng, &["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted"]),
            "LeadSource": pick(&mut rng, &["Web", "Phone Inquiry", "Partner Referral", "Other"]),
            "Email": format!("lead{}@example.org", i + 1),
        }));
        let _ = store.create(schema, lead, &body, ctx, &mut undo);
        undo.clear();
        let body = obj(json!({
            "Name": format!("Opportunity {}", i + 1),
            "AccountId": accounts.get(i).cloned(),
            "StageName": pick(&mut rng, STAGES),
            "CloseDate": format!("2026-{:02}-{:02}", rng.gen_range(1..=12), rng.gen_range(1..=28)),
            "Amount": rng.gen_range(1..200) * 1000,
            "Probability": rng.gen_range(0..=10) * 10,
        }));
        let _ = store.create(schema, opp, &body, ctx, &mut undo);
        undo.clear();
        let body = obj(json!({
            "Subject": format!("{} issue #{}", pick(&mut rng, &["Login", "Billing", "Shipping", "Install"]), i + 1),
            "Status": pick(&mut rng, &["New", "Working", "Escalated", "Closed"]),
            "Priority": pick(&mut rng, &["High", "Medium", "Low"]),
            "Origin": pick(&mut rng, &["Phone", "Email", "Web"]),
            "AccountId": accounts.get(i).cloned(),
        }));
        let _ = store.create(schema, case, &body, ctx, &mut undo);
        undo.clear();
        let body = obj(json!({
            "Subject": pick(&mut rng, &["Call", "Email", "Send Quote", "Follow up"]),
            "Status": pick(&mut rng, &["Not Started", "In Progress", "Completed"]),
            "Priority": pick(&mut rng, &["High", "Normal", "Low"]),
            "WhatId": accounts.get(i).cloned(),
            "ActivityDate": format!("2026-{:02}-{:02}", rng.gen_range(1..=12), rng.gen_range(1..=28)),
        }));
        let _ = store.create(schema, task, &body, ctx, &mut undo);
        undo.clear();
    }
}
