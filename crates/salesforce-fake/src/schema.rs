//! Object and field descriptions: the standard objects n8n's Salesforce node
//! uses, plus custom objects added by configuration. Describe calls, write
//! validation and SOQL all read from here, so one table decides what exists.

use std::collections::HashMap;

use serde_json::{json, Value};

/// A field's data type, as named in describe results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The record id.
    Id,
    /// Short text.
    String,
    /// Long text.
    TextArea,
    /// One value from a list.
    Picklist,
    /// Free text with suggested values (Task.Subject).
    Combobox,
    /// Checkbox.
    Boolean,
    /// Floating point number.
    Double,
    /// Money amount.
    Currency,
    /// Percentage.
    Percent,
    /// Whole number.
    Int,
    /// Calendar date (`2025-03-30`).
    Date,
    /// Timestamp (`2025-03-30T17:57:34.000+0000`).
    DateTime,
    /// Id of another record.
    Reference,
    /// Email address.
    Email,
    /// Phone number.
    Phone,
    /// Web address.
    Url,
    /// Binary content, base64 in JSON.
    Base64,
}

impl FieldType {
    /// The `type` in describe results.
    pub fn describe_name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::String => "string",
            Self::TextArea => "textarea",
            Self::Picklist => "picklist",
            Self::Combobox => "combobox",
            Self::Boolean => "boolean",
            Self::Double => "double",
            Self::Currency => "currency",
            Self::Percent => "percent",
            Self::Int => "int",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Reference => "reference",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Url => "url",
            Self::Base64 => "base64",
        }
    }

    fn soap_type(self) -> &'static str {
        match self {
            Self::Id | Self::Reference => "tns:ID",
            Self::Boolean => "xsd:boolean",
            Self::Double | Self::Currency | Self::Percent => "xsd:double",
            Self::Int => "xsd:int",
            Self::Date => "xsd:date",
            Self::DateTime => "xsd:dateTime",
            Self::Base64 => "xsd:base64Binary",
            _ => "xsd:string",
        }
    }

    /// Whether values are text (compared case-insensitively, `LIKE` allowed).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Self::Id
                | Self::String
                | Self::TextArea
                | Self::Picklist
                | Self::Combobox
                | Self::Reference
                | Self::Email
                | Self::Phone
                | Self::Url
                | Self::Base64
        )
    }

    /// Whether values are numbers.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Self::Double | Self::Currency | Self::Percent | Self::Int
        )
    }

    fn default_length(self) -> u32 {
        match self {
            Self::Id | Self::Reference => 18,
            Self::String | Self::Combobox | Self::Url | Self::Picklist => 255,
            Self::Email => 80,
            Self::Phone => 40,
            Self::TextArea => 32000,
            _ => 0,
        }
    }
}

/// One field of an object: its type and what a client may do with it.
#[derive(Debug, Clone)]
pub struct Field {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) ty: FieldType,
    pub(crate) length: u32,
    pub(crate) nillable: bool,
    pub(crate) createable: bool,
    pub(crate) updateable: bool,
    pub(crate) defaulted: bool,
    pub(crate) default_value: Option<Value>,
    pub(crate) external_id: bool,
    pub(crate) unique: bool,
    pub(crate) picklist: Vec<String>,
    pub(crate) reference_to: Vec<String>,
    pub(crate) custom: bool,
}

impl Field {
    /// A nillable, writable field of the given type.
    pub fn new(name: &str, ty: FieldType) -> Self {
        Self {
            name: name.to_string(),
            label: label_for(name),
            ty,
            length: ty.default_length(),
            nillable: true,
            createable: true,
            updateable: true,
            defaulted: ty == FieldType::Boolean,
            default_value: (ty == FieldType::Boolean).then_some(Value::Bool(false)),
            external_id: false,
            unique: false,
            picklist: Vec::new(),
            reference_to: Vec::new(),
            custom: name.ends_with("__c"),
        }
    }

    /// A text field of the given maximum length.
    pub fn text(name: &str, length: u32) -> Self {
        Self::new(name, FieldType::String).length(length)
    }

    /// A number field.
    pub fn number(name: &str) -> Self {
        Self::new(name, FieldType::Double)
    }

    /// A checkbox field.
    pub fn checkbox(name: &str) -> Self {
        Self::new(name, FieldType::Boolean)
    }

    /// A date field.
    pub fn date(name: &str) -> Self {
        Self::new(name, FieldType::Date)
    }

    /// A date-time field.
    pub fn datetime(name: &str) -> Self {
        Self::new(name, FieldType::DateTime)
    }

    /// A lookup to another object.
    pub fn lookup(name: &str, target: &str) -> Self {
        Self::new(name, FieldType::Reference).refs(&[target])
    }

    /// A picklist with the given values.
    pub fn picklist(name: &str, values: &[&str]) -> Self {
        let mut f = Self::new(name, FieldType::Picklist);
        f.picklist = values.iter().map(|v| v.to_string()).collect();
        f
    }

    /// Sets the maximum text length.
    pub fn length(mut self, length: u32) -> Self {
        self.length = length;
        self
    }

    /// Makes the field required on create.
    pub fn required(mut self) -> Self {
        self.nillable = false;
        self
    }

    /// Marks the field as an external id (usable for upsert), which also makes it unique.
    pub fn external_id(mut self) -> Self {
        self.external_id = true;
        self.unique = true;
        self
    }

    /// Marks the field as an external id that is not unique, so an upsert can
    /// find several matches (Salesforce answers 300 then).
    pub fn external_id_not_unique(mut self) -> Self {
        self.external_id = true;
        self.unique = false;
        self
    }

    /// Gives the field a default applied on create when the client sends none.
    pub fn default_value(mut self, v: Value) -> Self {
        self.defaulted = true;
        self.default_value = Some(v);
        self
    }

    fn refs(mut self, targets: &[&str]) -> Self {
        self.reference_to = targets.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Server-maintained: neither createable nor updateable.
    fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self.defaulted = true;
        self
    }

    fn create_only(mut self) -> Self {
        self.updateable = false;
        self
    }

    /// Whether a create must carry this field.
    pub(crate) fn required_on_create(&self) -> bool {
        !self.nillable && self.createable && !self.defaulted
    }

    fn describe(&self) -> Value {
        let picklist: Vec<Value> = self
            .picklist
            .iter()
            .enumerate()
            .map(|(i, v)| {
                json!({"active": true, "defaultValue": i == 0 && self.defaulted, "label": v, "validFor": null, "value": v})
            })
            .collect();
        let relationship = (self.ty == FieldType::Reference && self.name.ends_with("Id"))
            .then(|| self.name.trim_end_matches("Id").to_string());
        let (precision, scale) = match self.ty {
            FieldType::Currency | FieldType::Double => (18, 2),
            FieldType::Percent => (3, 0),
            _ => (0, 0),
        };
        json!({
            "aggregatable": self.ty != FieldType::TextArea,
            "autoNumber": false,
            "byteLength": self.length * 3,
            "calculated": false,
            "caseSensitive": false,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default_value,
            "defaultedOnCreate": self.defaulted,
            "digits": if self.ty == FieldType::Int { 9 } else { 0 },
            "externalId": self.external_id,
            "filterable": self.ty != FieldType::TextArea,
            "groupable": !matches!(self.ty, FieldType::TextArea | FieldType::Double | FieldType::Currency | FieldType::Percent | FieldType::DateTime),
            "idLookup": self.ty == FieldType::Id || self.external_id,
            "label": self.label,
            "length": self.length,
            "name": self.name,
            "nameField": self.name == "Name",
            "nillable": self.nillable,
            "picklistValues": picklist,
            "precision": precision,
            "referenceTo": self.reference_to,
            "relationshipName": relationship,
            "restrictedPicklist": false,
            "scale": scale,
            "soapType": self.ty.soap_type(),
            "sortable": self.ty != FieldType::TextArea,
            "type": self.ty.describe_name(),
            "unique": self.unique,
            "updateable": self.updateable,
        })
    }
}

/// "AnnualRevenue" -> "Annual Revenue", "AccountId" -> "Account ID", "Foo__c" -> "Foo".
fn label_for(name: &str) -> String {
    let base = name.trim_end_matches("__c");
    let base = base
        .strip_suffix("Id")
        .filter(|b| !b.is_empty())
        .map(|b| format!("{b} ID"));
    let base = base.unwrap_or_else(|| name.trim_end_matches("__c").to_string());
    let mut out = String::new();
    let chars: Vec<char> = base.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
        if c.is_ascii_uppercase() && prev_lower {
            out.push(' ');
        }
        out.push(if *c == '_' { ' ' } else { *c });
    }
    out
}

/// A custom object added by configuration (`Foo__c`), with its own fields.
#[derive(Debug, Clone)]
pub struct CustomObject {
    pub(crate) name: String,
    pub(crate) fields: Vec<Field>,
}

impl CustomObject {
    /// A custom object named `name` (which should end in `__c`), with a `Name` field. Named
    /// like a standard object (`Contact`), it adds its fields to that object instead: custom
    /// fields, as an admin adds them.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            fields: Vec::new(),
        }
    }

    /// Adds a field.
    pub fn field(mut self, field: Field) -> Self {
        self.fields.push(field);
        self
    }
}

/// An object (sObject type): its key prefix, labels and fields.
#[derive(Debug, Clone)]
pub struct ObjectSchema {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) label_plural: String,
    pub(crate) key_prefix: String,
    pub(crate) custom: bool,
    pub(crate) fields: Vec<Field>,
    by_lower: HashMap<String, usize>,
}

impl ObjectSchema {
    fn new(name: &str, prefix: &str, plural: &str, owned: bool, fields: Vec<Field>) -> Self {
        let mut all = vec![Field::new("Id", FieldType::Id).read_only()];
        all[0].nillable = false;
        all.push(Field::checkbox("IsDeleted").read_only());
        if owned {
            all.push(
                Field::lookup("OwnerId", "User")
                    .default_value(Value::Null)
                    .required(),
            );
        }
        all.extend(fields);
        for (n, target) in [
            ("CreatedDate", None),
            ("CreatedById", Some("User")),
            ("LastModifiedDate", None),
            ("LastModifiedById", Some("User")),
            ("SystemModstamp", None),
        ] {
            let f = match target {
                Some(t) => Field::lookup(n, t),
                None => Field::datetime(n),
            };
            let mut f = f.read_only();
            f.nillable = false;
            all.push(f);
        }
        let label = label_for(name);
        let mut s = Self {
            name: name.to_string(),
            label_plural: if plural.is_empty() {
                format!("{label}s")
            } else {
                plural.to_string()
            },
            label,
            key_prefix: prefix.to_string(),
            custom: name.ends_with("__c"),
            fields: all,
            by_lower: HashMap::new(),
        };
        s.reindex();
        s
    }

    fn reindex(&mut self) {
        self.by_lower = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
            .collect();
    }

    /// The field named `name`, case-insensitively.
    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        self.by_lower
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.fields[i])
    }

    /// Whether `name` is a binary (base64) field, served by URL rather than inline.
    pub(crate) fn is_blob(&self, name: &str) -> bool {
        self.field(name).is_some_and(|f| f.ty == FieldType::Base64)
    }

    /// The describe result for this object.
    pub(crate) fn describe(&self, version: &str) -> Value {
        let mut v = self.summary(version);
        let obj = v.as_object_mut().expect("summary is an object");
        obj.insert(
            "fields".into(),
            Value::Array(self.fields.iter().map(Field::describe).collect()),
        );
        obj.insert("childRelationships".into(), json!([]));
        obj.insert("recordTypeInfos".into(), json!([]));
        obj.insert(
            "supportedScopes".into(),
            json!([{"label": "All records", "name": "everything"}]),
        );
        v
    }

    /// The short describe used by the global describe and the summary call.
    pub(crate) fn summary(&self, version: &str) -> Value {
        let base = format!("/services/data/{version}/sobjects/{}", self.name);
        json!({
            "activateable": false,
            "createable": true,
            "custom": self.custom,
            "customSetting": false,
            "deletable": true,
            "deprecatedAndHidden": false,
            "feedEnabled": false,
            "hasSubtypes": false,
            "isSubtype": false,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": true,
            "mergeable": false,
            "mruEnabled": true,
            "name": self.name,
            "queryable": true,
            "replicateable": true,
            "retrieveable": true,
            "searchable": true,
            "triggerable": true,
            "undeletable": true,
            "updateable": true,
            "urls": {
                "compactLayouts": format!("{base}/describe/compactLayouts"),
                "rowTemplate": format!("{base}/{{ID}}"),
                "describe": format!("{base}/describe"),
                "layouts": format!("{base}/describe/layouts"),
                "sobject": base,
            },
        })
    }
}

/// All objects of the org, looked up case-insensitively.
#[derive(Debug, Clone)]
pub struct Schema {
    pub(crate) objects: Vec<ObjectSchema>,
    by_lower: HashMap<String, usize>,
}

impl Schema {
    /// The standard objects plus the given custom objects (key prefixes a01, a02, ...).
    pub(crate) fn new(custom: &[CustomObject]) -> Self {
        let mut objects = standard_objects();
        let mut next_prefix = 1;
        for c in custom {
            // Custom fields on a standard object (`Contact` with `Demo_Key__c`, say).
            if let Some(standard) = objects
                .iter_mut()
                .find(|o| !o.custom && o.name.eq_ignore_ascii_case(&c.name))
            {
                standard.fields.extend(c.fields.iter().cloned());
                standard.reindex();
                continue;
            }
            let mut fields = vec![Field::text("Name", 80)];
            fields.extend(c.fields.iter().cloned());
            let prefix = format!("a{next_prefix:02}");
            next_prefix += 1;
            objects.push(ObjectSchema::new(&c.name, &prefix, "", true, fields));
        }
        let by_lower = objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.to_ascii_lowercase(), i))
            .collect();
        Self { objects, by_lower }
    }

    /// The index of the object named `name`, case-insensitively.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.by_lower.get(&name.to_ascii_lowercase()).copied()
    }

    /// The object named `name`, case-insensitively.
    #[cfg(test)]
    fn object(&self, name: &str) -> Option<&ObjectSchema> {
        self.index_of(name).map(|i| &self.objects[i])
    }
}

fn address(prefix: &str) -> Vec<Field> {
    ["Street", "City", "State", "PostalCode", "Country"]
        .iter()
        .map(|part| {
            let f = Field::text(&format!("{prefix}{part}"), 80);
            if *part == "Street" {
                f.length(255)
            } else {
                f
            }
        })
        .collect()
}

fn with(mut base: Vec<Field>, more: Vec<Field>) -> Vec<Field> {
    base.extend(more);
    base
}

fn standard_objects() -> Vec<ObjectSchema> {
    use FieldType as T;
    let f = Field::new;
    let industries = &[
        "Agriculture",
        "Banking",
        "Education",
        "Electronics",
        "Energy",
        "Finance",
        "Retail",
        "Technology",
    ];
    let lead_sources = &[
        "Web",
        "Phone Inquiry",
        "Partner Referral",
        "Purchased List",
        "Other",
    ];
    let name_fields = |required_last: bool| {
        let last = Field::text("LastName", 80);
        vec![
            Field::picklist("Salutation", &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
            Field::text("FirstName", 40),
            if required_last { last.required() } else { last },
            Field::text("Name", 121).read_only(),
        ]
    };
    vec![
        ObjectSchema::new(
            "Account",
            "001",
            "Accounts",
            true,
            with(
                vec![
                    Field::text("Name", 255).required(),
                    Field::picklist(
                        "Type",
                        &[
                            "Prospect",
                            "Customer - Direct",
                            "Customer - Channel",
                            "Partner",
                            "Other",
                        ],
                    ),
                    Field::lookup("ParentId", "Account"),
                ],
                with(
                    address("Billing"),
                    with(
                        address("Shipping"),
                        vec![
                            f("Phone", T::Phone),
                            f("Fax", T::Phone),
                            Field::text("AccountNumber", 40),
                            f("Website", T::Url),
                            Field::text("Sic", 20),
                            Field::picklist("Industry", industries),
                            f("AnnualRevenue", T::Currency),
                            f("NumberOfEmployees", T::Int),
                            Field::picklist(
                                "Ownership",
                                &["Public", "Private", "Subsidiary", "Other"],
                            ),
                            Field::picklist("Rating", &["Hot", "Warm", "Cold"]),
                            Field::text("Site", 80),
                            Field::picklist("AccountSource", lead_sources),
                            f("Description", T::TextArea),
                        ],
                    ),
                ),
            ),
        ),
        ObjectSchema::new(
            "Contact",
            "003",
            "Contacts",
            true,
            with(
                name_fields(true),
                with(
                    address("Mailing"),
                    vec![
                        Field::lookup("AccountId", "Account"),
                        f("Email", T::Email),
                        f("Phone", T::Phone),
                        f("MobilePhone", T::Phone),
                        f("HomePhone", T::Phone),
                        f("Fax", T::Phone),
                        Field::text("Title", 128),
                        Field::text("Department", 80),
                        f("Birthdate", T::Date),
                        Field::picklist("LeadSource", lead_sources),
                        Field::lookup("ReportsToId", "Contact"),
                        Field::text("AssistantName", 40),
                        Field::checkbox("HasOptedOutOfEmail"),
                        Field::checkbox("DoNotCall"),
                        f("Description", T::TextArea),
                    ],
                ),
            ),
        ),
        ObjectSchema::new(
            "Lead",
            "00Q",
            "Leads",
            true,
            with(
                name_fields(true),
                with(
                    address(""),
                    vec![
                        Field::text("Company", 255).required(),
                        Field::picklist(
                            "Status",
                            &[
                                "Open - Not Contacted",
                                "Working - Contacted",
                                "Closed - Converted",
                                "Closed - Not Converted",
                            ],
                        )
                        .required()
                        .default_value(json!("Open - Not Contacted")),
                        Field::text("Title", 128),
                        f("Email", T::Email),
                        f("Phone", T::Phone),
                        f("MobilePhone", T::Phone),
                        f("Website", T::Url),
                        Field::picklist("Industry", industries),
                        Field::picklist("LeadSource", lead_sources),
                        Field::picklist("Rating", &["Hot", "Warm", "Cold"]),
                        f("AnnualRevenue", T::Currency),
                        f("NumberOfEmployees", T::Int),
                        Field::checkbox("IsConverted").read_only(),
                        Field::checkbox("IsUnreadByOwner"),
                        Field::checkbox("HasOptedOutOfEmail"),
                        f("Description", T::TextArea),
                    ],
                ),
            ),
        ),
        ObjectSchema::new(
            "Opportunity",
            "006",
            "Opportunities",
            true,
            vec![
                Field::text("Name", 120).required(),
                Field::lookup("AccountId", "Account"),
                Field::picklist(
                    "StageName",
                    &[
                        "Prospecting",
                        "Qualification",
                        "Needs Analysis",
                        "Proposal/Price Quote",
                        "Negotiation/Review",
                        "Closed Won",
                        "Closed Lost",
                    ],
                )
                .required(),
                f("CloseDate", T::Date).required(),
                f("Amount", T::Currency),
                f("Probability", T::Percent),
                f("ExpectedRevenue", T::Currency).read_only(),
                Field::picklist(
                    "Type",
                    &[
                        "Existing Customer - Upgrade",
                        "Existing Customer - Replacement",
                        "Existing Customer - Downgrade",
                        "New Customer",
                    ],
                ),
                Field::picklist("LeadSource", lead_sources),
                Field::text("NextStep", 255),
                Field::picklist(
                    "ForecastCategoryName",
                    &["Omitted", "Pipeline", "Best Case", "Commit", "Closed"],
                ),
                Field::checkbox("IsClosed").read_only(),
                Field::checkbox("IsWon").read_only(),
                Field::lookup("CampaignId", "Campaign"),
                f("Description", T::TextArea),
            ],
        ),
        ObjectSchema::new(
            "Case",
            "500",
            "Cases",
            true,
            vec![
                Field::text("CaseNumber", 30).read_only(),
                Field::text("Subject", 255),
                f("Description", T::TextArea),
                Field::picklist("Status", &["New", "Working", "Escalated", "Closed"])
                    .required()
                    .default_value(json!("New")),
                Field::picklist("Priority", &["High", "Medium", "Low"])
                    .default_value(json!("Medium")),
                Field::picklist("Origin", &["Phone", "Email", "Web"]),
                Field::picklist(
                    "Type",
                    &[
                        "Mechanical",
                        "Electrical",
                        "Electronic",
                        "Structural",
                        "Other",
                    ],
                ),
                Field::picklist(
                    "Reason",
                    &[
                        "Installation",
                        "Equipment Complexity",
                        "Performance",
                        "Breakdown",
                        "Equipment Design",
                        "Feedback",
                        "Other",
                    ],
                ),
                Field::lookup("AccountId", "Account"),
                Field::lookup("ContactId", "Contact"),
                Field::lookup("ParentId", "Case"),
                f("SuppliedName", T::String).length(80),
                f("SuppliedEmail", T::Email),
                f("SuppliedPhone", T::Phone),
                f("SuppliedCompany", T::String).length(80),
                Field::checkbox("IsClosed").read_only(),
                Field::checkbox("IsEscalated"),
            ],
        ),
        ObjectSchema::new(
            "CaseComment",
            "00a",
            "Case Comments",
            false,
            vec![
                Field::lookup("ParentId", "Case").required().create_only(),
                f("CommentBody", T::TextArea).length(4000),
                Field::checkbox("IsPublished"),
            ],
        ),
        ObjectSchema::new(
            "Task",
            "00T",
            "Tasks",
            true,
            vec![
                f("Subject", T::Combobox),
                Field::picklist(
                    "Status",
                    &[
                        "Not Started",
                        "In Progress",
                        "Completed",
                        "Waiting on someone else",
                        "Deferred",
                    ],
                )
                .required()
                .default_value(json!("Not Started")),
                Field::picklist("Priority", &["High", "Normal", "Low"])
                    .required()
                    .default_value(json!("Normal")),
                Field::new("WhoId", T::Reference).refs(&["Contact", "Lead"]),
                Field::new("WhatId", T::Reference).refs(&[
                    "Account",
                    "Opportunity",
                    "Case",
                    "Campaign",
                ]),
                f("ActivityDate", T::Date),
                f("Description", T::TextArea),
                Field::picklist("Type", &["Call", "Email", "Meeting", "Other"]),
                f("CallDurationInSeconds", T::Int),
                Field::text("CallObject", 255),
                Field::checkbox("IsReminderSet"),
                f("ReminderDateTime", T::DateTime),
                f("RecurrenceType", T::Picklist),
                Field::checkbox("IsClosed").read_only(),
            ],
        ),
        ObjectSchema::new(
            "User",
            "005",
            "Users",
            false,
            with(
                name_fields(true),
                vec![
                    Field::text("Username", 80).required().external_id(),
                    f("Email", T::Email).required(),
                    Field::text("Alias", 8).required(),
                    Field::text("CommunityNickname", 40),
                    Field::checkbox("IsActive").default_value(json!(true)),
                    Field::text("Title", 80),
                    Field::text("CompanyName", 80),
                    Field::text("Department", 80),
                    f("Phone", T::Phone),
                    Field::picklist(
                        "TimeZoneSidKey",
                        &[
                            "America/Los_Angeles",
                            "America/New_York",
                            "Europe/London",
                            "Europe/Paris",
                        ],
                    )
                    .required()
                    .default_value(json!("America/Los_Angeles")),
                    Field::picklist("LocaleSidKey", &["en_US", "en_GB", "de_DE", "fr_FR"])
                        .required()
                        .default_value(json!("en_US")),
                    Field::picklist("LanguageLocaleKey", &["en_US", "de", "fr"])
                        .required()
                        .default_value(json!("en_US")),
                    Field::picklist("EmailEncodingKey", &["UTF-8", "ISO-8859-1"])
                        .required()
                        .default_value(json!("UTF-8")),
                    Field::lookup("ProfileId", "Profile")
                        .required()
                        .default_value(json!("00eFk000000000001A")),
                    Field::picklist("UserType", &["Standard", "PowerPartner", "CsnOnly"])
                        .read_only(),
                ],
            ),
        ),
        ObjectSchema::new(
            "Note",
            "002",
            "Notes",
            true,
            vec![
                Field::text("Title", 80).required(),
                Field::new("ParentId", T::Reference)
                    .refs(&["Account", "Contact", "Lead", "Opportunity", "Case"])
                    .required()
                    .create_only(),
                f("Body", T::TextArea),
                Field::checkbox("IsPrivate"),
            ],
        ),
        ObjectSchema::new(
            "Attachment",
            "00P",
            "Attachments",
            true,
            vec![
                Field::text("Name", 255).required(),
                Field::new("ParentId", T::Reference)
                    .refs(&["Account", "Contact", "Lead", "Opportunity", "Case", "Task"])
                    .required()
                    .create_only(),
                f("Body", T::Base64).required(),
                Field::text("ContentType", 120),
                f("BodyLength", T::Int).read_only(),
                Field::text("Description", 500),
                Field::checkbox("IsPrivate"),
            ],
        ),
        ObjectSchema::new(
            "Campaign",
            "701",
            "Campaigns",
            true,
            vec![
                Field::text("Name", 80).required(),
                Field::picklist(
                    "Type",
                    &[
                        "Conference",
                        "Webinar",
                        "Trade Show",
                        "Email",
                        "Advertisement",
                        "Other",
                    ],
                ),
                Field::picklist(
                    "Status",
                    &["Planned", "In Progress", "Completed", "Aborted"],
                ),
                f("StartDate", T::Date),
                f("EndDate", T::Date),
                Field::checkbox("IsActive"),
                f("BudgetedCost", T::Currency),
                f("ActualCost", T::Currency),
                f("ExpectedRevenue", T::Currency),
                f("Description", T::TextArea),
            ],
        ),
        ObjectSchema::new(
            "CampaignMember",
            "00v",
            "Campaign Members",
            false,
            vec![
                Field::lookup("CampaignId", "Campaign")
                    .required()
                    .create_only(),
                Field::lookup("ContactId", "Contact").create_only(),
                Field::lookup("LeadId", "Lead").create_only(),
                Field::picklist("Status", &["Planned", "Sent", "Received", "Responded"])
                    .default_value(json!("Sent")),
                Field::checkbox("HasResponded").read_only(),
            ],
        ),
        ObjectSchema::new(
            "ContentVersion",
            "068",
            "Content Versions",
            true,
            vec![
                Field::text("Title", 255),
                Field::text("PathOnClient", 500).required().create_only(),
                Field::picklist("ContentLocation", &["S", "E", "L"]).default_value(json!("S")),
                f("VersionData", T::Base64).create_only(),
                Field::new("FirstPublishLocationId", T::Reference)
                    .refs(&["Account", "Contact", "Lead", "Opportunity", "Case", "User"])
                    .create_only(),
                Field::lookup("ContentDocumentId", "ContentDocument").read_only(),
                Field::text("FileExtension", 40).read_only(),
                f("ContentSize", T::Int).read_only(),
                Field::text("VersionNumber", 20).read_only(),
                Field::checkbox("IsLatest").read_only(),
                f("Description", T::TextArea),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_salesforce() {
        assert_eq!(label_for("AnnualRevenue"), "Annual Revenue");
        assert_eq!(label_for("AccountId"), "Account ID");
        assert_eq!(label_for("Region__c"), "Region");
    }

    #[test]
    fn lookups_are_case_insensitive_and_prefixes_known() {
        let s = Schema::new(&[
            CustomObject::new("Foo__c").field(Field::text("Code__c", 20).external_id())
        ]);
        assert_eq!(
            s.object("account").map(|o| o.name.as_str()),
            Some("Account")
        );
        assert_eq!(
            s.object("foo__C").map(|o| o.key_prefix.as_str()),
            Some("a01")
        );
        let acc = s.object("Account").unwrap();
        assert_eq!(
            acc.field("billingcity").map(|f| f.name.as_str()),
            Some("BillingCity")
        );
        assert!(acc.field("Name").unwrap().required_on_create());
        assert!(!acc.field("OwnerId").unwrap().required_on_create());
    }
}
