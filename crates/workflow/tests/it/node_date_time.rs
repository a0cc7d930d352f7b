//! Date & Time (v2) through the executor, in the workflow's time zone: every operation, the
//! ways dates are read, Luxon's output, and what is refused at save.

use serde_json::{json, Value};
use workflow::validate;

use super::node_flows::{
    assert_ok, failure, full, node, output, run, trigger, workflow_with_settings,
};

async fn date(params: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow_with_settings(
            json!([trigger(), node("Date", "dateTime", 2.0, params, 0)]),
            &[("Trigger", 0, "Date", 0)],
            json!({"executionOrder": "v1", "timezone": "Europe/Berlin"}),
        ),
        input,
    )
    .await
}

async fn one(params: Value) -> Value {
    let r = date(params, json!([{}])).await;
    assert_ok(&r);
    output(&r, "Date", 0)[0].clone()
}

#[tokio::test]
async fn add_and_subtract_move_the_calendar_in_the_workflow_zone() {
    assert_eq!(
        one(
            json!({"operation": "addToDate", "magnitude": "2024-01-31T10:00:00Z",
                   "timeUnit": "months", "duration": 1})
        )
        .await,
        json!({"newDate": "2024-02-29T11:00:00.000+01:00"})
    );
    // Epoch seconds; the output field renamed.
    assert_eq!(
        one(
            json!({"operation": "subtractFromDate", "magnitude": 1_704_067_200,
                   "timeUnit": "days", "duration": 1, "outputFieldName": "before"})
        )
        .await,
        json!({"before": "2023-12-31T01:00:00.000+01:00"})
    );
    assert_eq!(
        one(
            json!({"operation": "addToDate", "magnitude": "2024-03-30T12:00:00+01:00",
                   "timeUnit": "hours", "duration": 24})
        )
        .await,
        json!({"newDate": "2024-03-31T13:00:00.000+02:00"})
    );
}

#[tokio::test]
async fn format_reads_the_date_in_its_own_offset_unless_told_to_use_the_workflow_zone() {
    let base =
        json!({"operation": "formatDate", "date": "2024-07-04T15:30:00Z", "format": "yyyy/MM/dd"});
    assert_eq!(
        one(base.clone()).await,
        json!({"formattedDate": "2024/07/04"})
    );
    let mut custom = base.clone();
    custom["format"] = json!("custom");
    custom["customFormat"] = json!("dd LLL yyyy HH:mm");
    assert_eq!(
        one(custom.clone()).await,
        json!({"formattedDate": "04 Jul 2024 15:30"})
    );
    custom["options"] = json!({"timezone": true});
    assert_eq!(
        one(custom.clone()).await,
        json!({"formattedDate": "04 Jul 2024 17:30"})
    );
    custom["options"] = json!({});
    custom["date"] = json!("2024-07-04T15:30:00+02:00");
    assert_eq!(
        one(custom).await,
        json!({"formattedDate": "04 Jul 2024 15:30"})
    );
    assert_eq!(
        one(
            json!({"operation": "formatDate", "date": "04.07.2024", "format": "custom",
                   "customFormat": "yyyy-MM-dd", "options": {"fromFormat": "dd.MM.yyyy"}})
        )
        .await,
        json!({"formattedDate": "2024-07-04"})
    );
    assert_eq!(
        one(json!({"operation": "formatDate", "date": "2024-07-04T15:30:00Z", "format": "X"}))
            .await,
        json!({"formattedDate": "1720107000"})
    );
}

#[tokio::test]
async fn round_down_to_a_unit_or_up_to_the_end_of_the_month() {
    assert_eq!(
        one(json!({"operation": "roundDate", "date": "2024-05-16T13:45:00Z", "toNearest": "hour"}))
            .await,
        json!({"roundedDate": "2024-05-16T15:00:00.000+02:00"})
    );
    assert_eq!(
        one(json!({"operation": "roundDate", "date": "2024-05-16T13:45:00Z"})).await,
        json!({"roundedDate": "2024-05-01T00:00:00.000+02:00"})
    );
    assert_eq!(
        one(json!({"operation": "roundDate", "date": "2024-05-16T13:45:00Z", "mode": "roundUp", "to": "month"})).await,
        json!({"roundedDate": "2024-06-01T00:00:00.000+02:00"})
    );
}

#[tokio::test]
async fn time_between_dates_in_the_units_asked_for() {
    let base = json!({"operation": "getTimeBetweenDates", "startDate": "2024-01-01T00:00:00Z",
                      "endDate": "2024-01-02T12:00:00Z"});
    assert_eq!(
        one(base.clone()).await,
        json!({"timeDifference": {"days": 1.5}})
    );
    let mut units = base.clone();
    units["units"] = json!(["day", "hour"]);
    assert_eq!(
        one(units.clone()).await,
        json!({"timeDifference": {"days": 1, "hours": 12}})
    );
    units["options"] = json!({"isoString": true});
    assert_eq!(one(units).await, json!({"timeDifference": "P1DT12H"}));
    let mut months = base;
    months["endDate"] = json!("2024-03-15T00:00:00Z");
    months["units"] = json!(["month", "day"]);
    assert_eq!(
        one(months).await,
        json!({"timeDifference": {"months": 2, "days": 14}})
    );
}

#[tokio::test]
async fn extract_a_part_in_the_workflow_zone() {
    let at = "2024-05-16T23:30:00Z";
    for (part, want) in [
        ("day", 17),
        ("week", 20),
        ("month", 5),
        ("hour", 1),
        ("year", 2024),
    ] {
        assert_eq!(
            one(json!({"operation": "extractDate", "date": at, "part": part})).await,
            json!({"datePart": want}),
            "{part}"
        );
    }
}

#[tokio::test]
async fn current_date_in_a_zone_with_or_without_the_time_and_input_fields_kept() {
    let r = date(
        json!({"operation": "getCurrentDate", "includeTime": false,
               "options": {"timezone": "America/New_York", "includeInputFields": true}}),
        json!([{"keep": 1}, {"keep": 2}]),
    )
    .await;
    assert_ok(&r);
    let out = full(&r, "Date", 0);
    assert_eq!(out[1]["json"]["keep"], 2);
    assert_eq!(out[1]["pairedItem"], json!({"item": 1}));
    let today = out[0]["json"]["currentDate"].as_str().unwrap();
    assert!(
        today.ends_with("T00:00:00.000-04:00") || today.ends_with("T00:00:00.000-05:00"),
        "{today}"
    );
    let now = one(json!({})).await;
    let now = now["currentDate"].as_str().unwrap();
    assert!(now.ends_with("+01:00") || now.ends_with("+02:00"), "{now}");
}

#[tokio::test]
async fn bad_dates_and_zones_are_errors_and_unknown_values_are_refused_at_save() {
    let r = date(
        json!({"operation": "formatDate", "date": "not a date"}),
        json!([{}]),
    )
    .await;
    assert_eq!(failure(&r), "Invalid date format");
    let r = date(
        json!({"operation": "getCurrentDate", "options": {"timezone": "Mars/Base"}}),
        json!([{}]),
    )
    .await;
    assert_eq!(
        failure(&r),
        "The timezone Mars/Base is not valid. Please check the timezone."
    );
    let mut failing = node(
        "Date",
        "dateTime",
        2.0,
        json!({"operation": "formatDate", "date": "={{ $json.d }}"}),
        0,
    );
    failing["onError"] = json!("continueRegularOutput");
    let r = run(
        workflow_with_settings(
            json!([trigger(), failing]),
            &[("Trigger", 0, "Date", 0)],
            json!({}),
        ),
        json!([{"d": "2024-01-01"}, {"d": "nonsense"}]),
    )
    .await;
    assert_eq!(
        output(&r, "Date", 0),
        json!([{"formattedDate": "01/01/2024"}, {"error": "Invalid date format"}])
    );

    let registry = core_nodes::registry();
    for (params, want) in [
        (
            json!({"operation": "addToDate", "magnitude": "x", "timeUnit": "fortnights"}),
            "Parameter \"timeUnit\" has an unknown value \"fortnights\"",
        ),
        (
            json!({"operation": "getTimeBetweenDates", "units": ["day", "eon"]}),
            "Parameter \"units\" has an unknown value \"eon\"",
        ),
        (
            json!({"operation": "roundDate", "options": {"isoString": true}}),
            "Parameter \"options.isoString\" is not supported",
        ),
        (
            json!({"operation": "addToDate"}),
            "Parameter \"magnitude\" is required",
        ),
        (
            json!({"operation": "parseDate"}),
            "Parameter \"operation\" has an unknown value \"parseDate\"",
        ),
    ] {
        let wf = workflow_with_settings(
            json!([trigger(), node("Date", "dateTime", 2.0, params, 0)]),
            &[("Trigger", 0, "Date", 0)],
            json!({}),
        );
        let err = validate(&wf, &registry, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}
