//! The node's resources as n8n names them: which object each one writes, its id parameter,
//! its operations, the parameters every create needs, the `additionalFields` /
//! `updateFields` keys it accepts and the Salesforce field each key stands for.
//!
//! Written from n8n's parameter names (`../shared/reference/n8n-salesforce-parameters.json`)
//! and Salesforce's field names; the program never reads that file. A key maps to its field
//! by upper-casing the first letter (`website` -> `Website`, `hasOptedOutOfEmail` ->
//! `HasOptedOutOfEmail`), except the few in [`SPECIAL_KEYS`]. Where n8n reads a key under
//! another spelling than the one it declares (`acconuntId`, `IsUnreadByOwner`) and so drops
//! the value, we map the declared key to the field it obviously means.

/// One value of the `resource` parameter.
#[derive(Debug)]
pub(crate) struct Resource {
    /// n8n's name, e.g. `account`; also the object segment of the paths n8n calls
    /// (`/sobjects/account`), which Salesforce reads case-insensitively.
    pub name: &'static str,
    /// The sObject type as SOQL and sObject Collections name it, e.g. `Account`.
    pub object: &'static str,
    /// The parameter holding a record id (`accountId`), for get, update, delete, notes.
    pub id_param: &'static str,
    /// Every operation n8n offers for it; the first is listed as n8n lists them.
    pub operations: &'static [&'static str],
    /// The operation n8n runs when the parameter is absent.
    pub default_operation: &'static str,
    /// Parameters every create (and upsert) sends, with their Salesforce field.
    pub main_fields: &'static [(&'static str, &'static str)],
    /// Keys accepted in `additionalFields` and `updateFields` (`customFieldsUi` aside).
    pub extra_keys: &'static [&'static str],
    /// The fields getAll selects when `options.fields` is empty (n8n's defaults).
    pub default_query_fields: &'static str,
}

/// Keys whose field is not the key with its first letter upper-cased.
pub(crate) const SPECIAL_KEYS: &[(&str, &str)] = &[
    ("owner", "OwnerId"),
    ("ownerId", "OwnerId"),
    ("acconuntId", "AccountId"),
    ("Assistant Phone", "AssistantPhone"),
    ("firstname", "FirstName"),
    ("lastname", "LastName"),
];

const CUSTOM_OBJECT_OPS: &[&str] = &["create", "upsert", "delete", "get", "getAll", "update"];

const LEAD_KEYS: &[&str] = &[
    "annualRevenue",
    "city",
    "company",
    "country",
    "description",
    "email",
    "fax",
    "firstname",
    "hasOptedOutOfEmail",
    "hasOptedOutOfFax",
    "HasOptedOutOfFax",
    "industry",
    "IsUnreadByOwner",
    "jigsaw",
    "lastname",
    "leadSource",
    "mobilePhone",
    "numberOfEmployees",
    "owner",
    "phone",
    "postalCode",
    "recordTypeId",
    "rating",
    "salutation",
    "state",
    "status",
    "street",
    "title",
    "website",
];

const CONTACT_KEYS: &[&str] = &[
    "acconuntId",
    "assistantName",
    "Assistant Phone",
    "birthdate",
    "department",
    "description",
    "email",
    "emailBouncedDate",
    "emailBouncedReason",
    "fax",
    "firstName",
    "homePhone",
    "jigsaw",
    "lastName",
    "leadSource",
    "mailingCity",
    "mailingCountry",
    "mailingPostalCode",
    "mailingState",
    "mailingStreet",
    "mobilePhone",
    "otherCity",
    "otherCountry",
    "otherPhone",
    "otherPostalCode",
    "otherState",
    "otherStreet",
    "owner",
    "phone",
    "recordTypeId",
    "salutation",
    "title",
];

const ACCOUNT_KEYS: &[&str] = &[
    "accountNumber",
    "accountSource",
    "annualRevenue",
    "billingCity",
    "billingCountry",
    "billingPostalCode",
    "billingState",
    "billingStreet",
    "description",
    "fax",
    "industry",
    "jigsaw",
    "name",
    "numberOfEmployees",
    "owner",
    "ownerId",
    "parentId",
    "phone",
    "recordTypeId",
    "sicDesc",
    "shippingCity",
    "shippingCountry",
    "shippingPostalCode",
    "shippingState",
    "shippingStreet",
    "type",
    "website",
];

const OPPORTUNITY_KEYS: &[&str] = &[
    "accountId",
    "amount",
    "campaignId",
    "closeDate",
    "description",
    "forecastCategoryName",
    "leadSource",
    "name",
    "nextStep",
    "owner",
    "phone",
    "pricebook2Id",
    "probability",
    "stageName",
    "type",
];

const CASE_KEYS: &[&str] = &[
    "accountId",
    "contactId",
    "description",
    "isEscalated",
    "origin",
    "owner",
    "ParentId",
    "priority",
    "reason",
    "recordTypeId",
    "status",
    "subject",
    "suppliedCompany",
    "suppliedEmail",
    "suppliedName",
    "suppliedPhone",
    "type",
];

const TASK_KEYS: &[&str] = &[
    "activityDate",
    "callDisposition",
    "callDurationInSeconds",
    "callObject",
    "callType",
    "description",
    "isReminderSet",
    "owner",
    "priority",
    "recurrenceDayOfMonth",
    "recurrenceDayOfWeekMask",
    "recurrenceEndDateOnly",
    "recurrenceInstance",
    "recurrenceInterval",
    "recurrenceMonthOfYear",
    "recurrenceRegeneratedType",
    "recurrenceTimeZoneSidKey",
    "recurrenceType",
    "reminderDateTime",
    "status",
    "subject",
    "type",
    "whatId",
    "whoId",
];

const ATTACHMENT_KEYS: &[&str] = &["description", "isPrivate", "name", "owner"];

/// The resources that hold records of one standard object.
pub(crate) const RESOURCES: &[Resource] = &[
    Resource {
        name: "account",
        object: "Account",
        id_param: "accountId",
        operations: &[
            "addNote",
            "create",
            "upsert",
            "delete",
            "get",
            "getAll",
            "getSummary",
            "update",
        ],
        default_operation: "create",
        main_fields: &[("name", "Name")],
        extra_keys: ACCOUNT_KEYS,
        default_query_fields: "id,name,type,LastModifiedDate",
    },
    Resource {
        name: "attachment",
        object: "Attachment",
        id_param: "attachmentId",
        operations: &["create", "delete", "get", "getAll", "getSummary", "update"],
        default_operation: "create",
        main_fields: &[("name", "Name"), ("parentId", "ParentId")],
        extra_keys: ATTACHMENT_KEYS,
        default_query_fields: "id,name,LastModifiedDate",
    },
    Resource {
        name: "case",
        object: "Case",
        id_param: "caseId",
        operations: &[
            "addComment",
            "create",
            "delete",
            "get",
            "getAll",
            "getSummary",
            "update",
        ],
        default_operation: "create",
        main_fields: &[("type", "Type")],
        extra_keys: CASE_KEYS,
        default_query_fields:
            "id,accountId,contactId,priority,status,subject,type,LastModifiedDate",
    },
    Resource {
        name: "contact",
        object: "Contact",
        id_param: "contactId",
        operations: &[
            "addToCampaign",
            "addNote",
            "create",
            "upsert",
            "delete",
            "get",
            "getAll",
            "getSummary",
            "update",
        ],
        default_operation: "create",
        main_fields: &[("lastname", "LastName")],
        extra_keys: CONTACT_KEYS,
        default_query_fields: "id,firstname,lastname,email,LastModifiedDate",
    },
    Resource {
        name: "lead",
        object: "Lead",
        id_param: "leadId",
        operations: &[
            "addToCampaign",
            "addNote",
            "create",
            "upsert",
            "delete",
            "get",
            "getAll",
            "getSummary",
            "update",
        ],
        default_operation: "create",
        main_fields: &[("company", "Company"), ("lastname", "LastName")],
        extra_keys: LEAD_KEYS,
        default_query_fields:
            "id,company,firstname,lastname,street,postalCode,city,email,status,LastModifiedDate",
    },
    Resource {
        name: "opportunity",
        object: "Opportunity",
        id_param: "opportunityId",
        operations: &[
            "addNote",
            "create",
            "upsert",
            "delete",
            "get",
            "getAll",
            "getSummary",
            "update",
        ],
        default_operation: "create",
        main_fields: &[
            ("name", "Name"),
            ("closeDate", "CloseDate"),
            ("stageName", "StageName"),
        ],
        extra_keys: OPPORTUNITY_KEYS,
        default_query_fields: "id,accountId,amount,probability,type,LastModifiedDate",
    },
    Resource {
        name: "task",
        object: "Task",
        id_param: "taskId",
        operations: &["create", "delete", "get", "getAll", "getSummary", "update"],
        default_operation: "create",
        main_fields: &[("status", "Status")],
        extra_keys: TASK_KEYS,
        default_query_fields: "id,subject,status,priority,LastModifiedDate",
    },
    Resource {
        name: "user",
        object: "User",
        id_param: "userId",
        operations: &["get", "getAll"],
        default_operation: "get",
        main_fields: &[],
        extra_keys: &[],
        default_query_fields: "id,name,email,LastModifiedDate",
    },
];

/// The resources that are not one standard object, with their operations and default.
pub(crate) const OTHER_RESOURCES: &[(&str, &[&str], &str)] = &[
    ("customObject", CUSTOM_OBJECT_OPS, "create"),
    ("document", &["upload"], "upload"),
    ("flow", &["getAll", "invoke"], "invoke"),
    ("search", &["query"], "query"),
];

/// The fields getAll selects on a custom object when `options.fields` is empty.
pub(crate) const CUSTOM_OBJECT_QUERY_FIELDS: &str = "id,LastModifiedDate";

/// Every value of `resource`, in n8n's order.
pub(crate) const RESOURCE_NAMES: &[&str] = &[
    "account",
    "attachment",
    "case",
    "contact",
    "customObject",
    "document",
    "flow",
    "lead",
    "opportunity",
    "search",
    "task",
    "user",
];

/// The standard-object resource named `name`.
pub(crate) fn resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == name)
}

/// The operations of `resource` and the one run when `operation` is absent.
pub(crate) fn operations(resource_name: &str) -> Option<(&'static [&'static str], &'static str)> {
    if let Some(r) = resource(resource_name) {
        return Some((r.operations, r.default_operation));
    }
    OTHER_RESOURCES
        .iter()
        .find(|(name, _, _)| *name == resource_name)
        .map(|(_, ops, default)| (*ops, *default))
}

/// The Salesforce field an `additionalFields` / `updateFields` key stands for on `resource`,
/// or `None` when the resource has no such key.
pub(crate) fn field_for_key(resource: &Resource, key: &str) -> Option<String> {
    if !resource.extra_keys.contains(&key) {
        return None;
    }
    // n8n sends a task's `type` as TaskSubtype (Task, Email, Call ...), not the Type picklist.
    if resource.name == "task" && key == "type" {
        return Some("TaskSubtype".into());
    }
    if let Some((_, field)) = SPECIAL_KEYS.iter().find(|(k, _)| *k == key) {
        return Some((*field).into());
    }
    let mut chars = key.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
}

/// Required parameters per resource and operations, n8n's `required: true` properties:
/// (resource, operations, parameter, default).
pub(crate) const REQUIRED: &[(&str, &[&str], &str, Option<&str>)] = &[
    ("lead", &["upsert"], "externalId", None),
    ("lead", &["upsert"], "externalIdValue", None),
    ("lead", &["create", "upsert"], "company", None),
    ("lead", &["create", "upsert"], "lastname", None),
    (
        "lead",
        &["update", "get", "delete", "addToCampaign", "addNote"],
        "leadId",
        None,
    ),
    ("lead", &["addToCampaign"], "campaignId", None),
    ("lead", &["addNote"], "title", None),
    ("contact", &["upsert"], "externalId", None),
    ("contact", &["upsert"], "externalIdValue", None),
    ("contact", &["create", "upsert"], "lastname", None),
    (
        "contact",
        &["update", "get", "delete", "addToCampaign", "addNote"],
        "contactId",
        None,
    ),
    ("contact", &["addToCampaign"], "campaignId", None),
    ("contact", &["addNote"], "title", None),
    ("customObject", CUSTOM_OBJECT_OPS, "customObject", None),
    ("customObject", &["upsert"], "externalId", None),
    ("customObject", &["upsert"], "externalIdValue", None),
    (
        "customObject",
        &["update", "get", "delete"],
        "recordId",
        None,
    ),
    ("document", &["upload"], "title", None),
    ("document", &["upload"], "binaryPropertyName", Some("data")),
    ("opportunity", &["upsert"], "externalId", None),
    ("opportunity", &["upsert"], "externalIdValue", None),
    ("opportunity", &["create", "upsert"], "name", None),
    ("opportunity", &["create", "upsert"], "closeDate", None),
    ("opportunity", &["create", "upsert"], "stageName", None),
    (
        "opportunity",
        &["update", "get", "delete", "addNote"],
        "opportunityId",
        None,
    ),
    ("opportunity", &["addNote"], "title", None),
    ("account", &["upsert"], "externalId", None),
    ("account", &["upsert"], "externalIdValue", None),
    ("account", &["create", "upsert"], "name", None),
    (
        "account",
        &["update", "get", "delete", "addNote"],
        "accountId",
        None,
    ),
    ("account", &["addNote"], "title", None),
    ("search", &["query"], "query", None),
    ("case", &["create"], "type", None),
    (
        "case",
        &["update", "get", "delete", "addComment"],
        "caseId",
        None,
    ),
    ("task", &["create"], "status", None),
    ("task", &["update", "get", "delete"], "taskId", None),
    ("attachment", &["create"], "parentId", None),
    ("attachment", &["create"], "name", None),
    (
        "attachment",
        &["create"],
        "binaryPropertyName",
        Some("data"),
    ),
    (
        "attachment",
        &["update", "get", "delete"],
        "attachmentId",
        None,
    ),
    ("user", &["get"], "userId", None),
    ("flow", &["invoke"], "apiName", None),
];

/// The comparison operators offered for getAll conditions.
pub(crate) const CONDITION_OPERATORS: &[&str] = &["<", "<=", "equal", ">", ">="];

/// Fixed lists inside collections: (resource, operations, parameter path, values).
pub(crate) const FIXED_LISTS: &[(&str, &[&str], &str, &[&str])] = &[
    (
        "task",
        &["create"],
        "additionalFields.recurrenceMonthOfYear",
        MONTHS,
    ),
    (
        "task",
        &["update"],
        "updateFields.recurrenceMonthOfYear",
        MONTHS,
    ),
    (
        "task",
        &["create"],
        "additionalFields.recurrenceRegeneratedType",
        REGENERATED,
    ),
    (
        "task",
        &["update"],
        "updateFields.recurrenceRegeneratedType",
        REGENERATED,
    ),
    (
        "opportunity",
        &["create", "upsert"],
        "additionalFields.type",
        OPPORTUNITY_TYPES,
    ),
    (
        "opportunity",
        &["update"],
        "updateFields.type",
        OPPORTUNITY_TYPES,
    ),
];

const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const REGENERATED: &[&str] = &[
    "RecurrenceRegenerateAfterDueDate",
    "RecurrenceRegenerateAfterToday",
    "RecurrenceRegenerated",
];

const OPPORTUNITY_TYPES: &[&str] = &["Business", "New Business"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_salesforce_fields_as_n8n_sends_them() {
        let field = |r: &str, k: &str| field_for_key(resource(r).unwrap(), k);
        for (r, key, want) in [
            ("account", "website", "Website"),
            ("account", "ownerId", "OwnerId"),
            ("account", "sicDesc", "SicDesc"),
            ("lead", "lastname", "LastName"),
            ("lead", "firstname", "FirstName"),
            ("lead", "IsUnreadByOwner", "IsUnreadByOwner"),
            ("lead", "hasOptedOutOfFax", "HasOptedOutOfFax"),
            ("lead", "owner", "OwnerId"),
            ("contact", "acconuntId", "AccountId"),
            ("contact", "Assistant Phone", "AssistantPhone"),
            ("contact", "lastName", "LastName"),
            ("opportunity", "pricebook2Id", "Pricebook2Id"),
            ("opportunity", "amount", "Amount"),
            ("case", "ParentId", "ParentId"),
            ("task", "type", "TaskSubtype"),
            ("task", "whoId", "WhoId"),
        ] {
            assert_eq!(field(r, key).as_deref(), Some(want), "{r}.{key}");
        }
        // A key the resource does not declare maps to nothing (and is refused by the caller).
        assert_eq!(field("account", "lastname"), None);
        assert_eq!(field("user", "name"), None);
    }

    #[test]
    fn every_resource_has_operations_and_a_default_among_them() {
        for name in RESOURCE_NAMES {
            let (ops, default) = operations(name).unwrap();
            assert!(ops.contains(&default), "{name}");
        }
        assert_eq!(operations("flow").unwrap().1, "invoke");
        assert_eq!(operations("user").unwrap().1, "get");
        assert!(operations("nope").is_none());
    }
}
