//! The social registry: persons and their effective-dated facts, bulk loading (demo and
//! import), search, dossiers, state as of a date, and maker-checker change requests.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, write_tx, Page, Paged, Result, Store, StoreError};

/// Above this many persons, an SQLite batch drops the secondary indexes of the tables
/// it fills and builds them again afterwards (inside the same transaction): building an
/// index from sorted data is far cheaper than a million random B-tree insertions.
const SQLITE_REINDEX_ABOVE: usize = 50_000;
/// How long a bulk load waits for another writer to finish before giving up.
const SQLITE_BULK_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The secondary indexes rebuilt by large SQLite batches — the same definitions as in
/// `migrations/sqlite/0003_registry.sql` (a contract test checks they all exist after).
pub(crate) const SQLITE_BULK_INDEXES: [(&str, &str); 9] = [
    ("persons_by_commune", "CREATE INDEX persons_by_commune ON persons (commune_code, name_key)"),
    ("persons_by_name", "CREATE INDEX persons_by_name ON persons (name_key)"),
    ("persons_by_given", "CREATE INDEX persons_by_given ON persons (given_key)"),
    ("persons_by_household", "CREATE INDEX persons_by_household ON persons (household_id)"),
    ("merit_records_by_person", "CREATE INDEX merit_records_by_person ON merit_records (person_id, valid_from)"),
    (
        "assistance_records_by_person",
        "CREATE INDEX assistance_records_by_person ON assistance_records (person_id, valid_from)",
    ),
    ("payment_methods_by_person", "CREATE INDEX payment_methods_by_person ON payment_methods (person_id)"),
    ("relationships_by_person", "CREATE INDEX relationships_by_person ON relationships (person_id)"),
    ("relationships_by_related", "CREATE INDEX relationships_by_related ON relationships (related_person_id)"),
];

/// Totals of a search are counted up to this many (a count of every "Nguyễn" would
/// cost more than the page itself).
pub const COUNT_CAP: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, Deserialize)]
pub struct PersonRow {
    pub id: i64,
    pub personal_id: String,
    pub full_name: String,
    pub birth_date: String,
    pub sex: String,
    pub ethnicity: String,
    pub commune_code: String,
    pub address_line: String,
    pub legacy_address: Option<String>,
    pub phone: Option<String>,
    pub deceased_on: Option<String>,
    pub cmnd: Option<String>,
    pub bhxh_code: Option<String>,
    pub household_id: Option<i64>,
    pub relation_to_head: Option<String>,
    /// `|c|relative|k1|`: merit categories and assistance groups in force.
    pub categories: String,
    pub status: String,
    pub version: i64,
    pub valid_from: String,
    pub created_at: String,
    pub updated_at: String,
}

const PERSON_COLUMNS: &str = "id, personal_id, full_name, birth_date, sex, ethnicity, commune_code, address_line, \
     legacy_address, phone, deceased_on, cmnd, bhxh_code, household_id, relation_to_head, categories, status, version, \
     valid_from, created_at, updated_at";

/// A person to insert (validated by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPerson {
    pub personal_id: String,
    pub full_name: String,
    /// `yyyy`, `yyyy-mm` or `yyyy-mm-dd`.
    pub birth_date: String,
    /// `male` or `female`.
    pub sex: String,
    pub ethnicity: String,
    pub commune_code: String,
    pub address_line: String,
    pub legacy_address: Option<String>,
    pub phone: Option<String>,
    pub deceased_on: Option<String>,
    pub cmnd: Option<String>,
    pub bhxh_code: Option<String>,
    pub household_code: Option<String>,
    pub relation_to_head: Option<String>,
    /// The date this state holds from.
    pub valid_from: String,
    /// The name's search keys (`name_keys`) when the caller computed them already, off
    /// the single write thread of an SQLite load; `None`: the writer computes them.
    #[serde(skip)]
    pub name_keys: Option<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewHousehold {
    pub code: String,
    pub commune_code: String,
    pub address_line: String,
    /// `poor`, `near_poor` or `none`, from `status_from`.
    pub status: String,
    pub status_from: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MeritRecord {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub person_id: i64,
    pub category: String,
    pub decision_no: String,
    pub decision_date: String,
    pub issuer: String,
    pub injury_rate: Option<i64>,
    #[serde(default)]
    pub type_b: bool,
    #[serde(default)]
    pub especially_severe: bool,
    pub seniority_from: Option<String>,
    pub martyrs_count: Option<i64>,
    pub linked_person_id: Option<i64>,
    pub relation: Option<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
    /// Category a: diện thoát ly (1.1a) or not (1.1b).
    #[serde(default)]
    pub thoat_ly: Option<bool>,
    /// Category m: `to_quoc_ghi_cong` or `huan_chuong_khang_chien`.
    #[serde(default)]
    pub award: Option<String>,
    /// Relatives: the category of the person with merit (a, b, c, g, h, i).
    #[serde(default)]
    pub of_category: Option<String>,
    /// Relatives of g, h, i: the deceased's rate.
    #[serde(default)]
    pub of_injury_rate: Option<i64>,
    /// Relatives: entitled to the extra nurture allowance.
    #[serde(default)]
    pub nurture: bool,
    /// Relatives of a, b, g, h, i: whether the person with merit has died.
    #[serde(default)]
    pub of_deceased: Option<bool>,
    #[serde(default)]
    pub remarried: bool,
    #[serde(default)]
    pub ao_child: bool,
    #[serde(default)]
    pub caregiver: bool,
    #[serde(default)]
    pub studying: bool,
    /// Category l: months of resistance activity.
    #[serde(default)]
    pub seniority_months: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AssistanceRecord {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub person_id: i64,
    pub group_code: String,
    pub disability_level: Option<String>,
    #[serde(default)]
    pub single_parent: bool,
    /// Sensitive.
    #[serde(default)]
    pub hiv: bool,
    pub decision_no: String,
    pub decision_date: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PaymentMethod {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub person_id: i64,
    /// `cash` or `bank`.
    pub method: String,
    pub bank_name: Option<String>,
    /// Sensitive.
    pub account_no: Option<String>,
    pub account_holder: Option<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Relationship {
    pub id: i64,
    pub person_id: i64,
    pub related_person_id: i64,
    pub kind: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct HouseholdRow {
    pub id: i64,
    pub code: String,
    pub commune_code: String,
    pub address_line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PersonVersion {
    pub version: i64,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub snapshot: String,
    pub recorded_at: String,
    pub recorded_by: String,
    pub reason: String,
    pub change_id: Option<i64>,
}

/// A beneficiary as the entitlement engine needs them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BeneficiaryRow {
    pub id: i64,
    pub personal_id: String,
    pub birth_date: String,
    pub deceased_on: Option<String>,
    pub commune_code: String,
    /// Member of a poor or near-poor household now.
    pub poor: bool,
}

/// See [`Store::entitlement_inputs`]: every list ordered by person id.
#[derive(Debug, Clone, Default)]
pub struct EntitlementInputs {
    pub persons: Vec<BeneficiaryRow>,
    pub merits: Vec<MeritRecord>,
    pub assistance: Vec<AssistanceRecord>,
}

/// Everything inserted in one bulk load; records refer to persons by personal ID.
#[derive(Debug, Clone, Default)]
pub struct PersonBatch {
    pub households: Vec<NewHousehold>,
    pub persons: Vec<NewPerson>,
    pub merits: Vec<(String, MeritRecord)>,
    pub assistance: Vec<(String, AssistanceRecord)>,
    pub payments: Vec<(String, PaymentMethod)>,
    /// (personal ID, related personal ID, kind)
    pub relationships: Vec<(String, String, String)>,
}

/// Where a row of a batch finds the household or person it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ref {
    /// It refers to none.
    None,
    /// The one at this position in the same batch (its rowid follows from the batch's first).
    Batch(u32),
    /// One written before this batch (an earlier batch of the load, or the registry): looked up.
    Earlier,
}

/// A batch with what the SQLite writer derives from it worked out ahead — which household
/// and person each row refers to, and each person's denormalised categories — so that the
/// writer, a bulk load's slowest stage, only writes. Preparing is pure work: the import
/// prepares chunk *k+1* on its own thread while the writer writes chunk *k*.
pub struct PreparedBatch {
    pub(crate) batch: PersonBatch,
    /// Per person: its household.
    pub(crate) person_household: Vec<Ref>,
    /// Per person: `categories_of` its records in this batch.
    pub(crate) categories: Vec<String>,
    /// Per merit, assistance and payment record: its person.
    pub(crate) merit_person: Vec<Ref>,
    pub(crate) assistance_person: Vec<Ref>,
    pub(crate) payment_person: Vec<Ref>,
    /// Per relationship: its two persons.
    pub(crate) relationship_persons: Vec<(Ref, Ref)>,
}

impl PersonBatch {
    /// Works out the batch's references (see [`PreparedBatch`]).
    pub fn prepare(self) -> PreparedBatch {
        use rustc_hash::FxHashMap;
        fn index<'a>(keys: impl Iterator<Item = &'a str>) -> FxHashMap<&'a str, u32> {
            let mut m = FxHashMap::default();
            for (i, k) in keys.enumerate() {
                m.entry(k).or_insert(i as u32);
            }
            m
        }
        let households = index(self.households.iter().map(|h| h.code.as_str()));
        let persons = index(self.persons.iter().map(|p| p.personal_id.as_str()));
        let person = |pid: &str| persons.get(pid).map_or(Ref::Earlier, |&i| Ref::Batch(i));
        let person_household = self
            .persons
            .iter()
            .map(|p| match &p.household_code {
                None => Ref::None,
                Some(c) => households.get(c.as_str()).map_or(Ref::Earlier, |&i| Ref::Batch(i)),
            })
            .collect();
        let merit_person: Vec<Ref> = self.merits.iter().map(|(p, _)| person(p)).collect();
        let assistance_person: Vec<Ref> = self.assistance.iter().map(|(p, _)| person(p)).collect();
        let payment_person = self.payments.iter().map(|(p, _)| person(p)).collect();
        let relationship_persons = self.relationships.iter().map(|(a, b, _)| (person(a), person(b))).collect();
        // each person's records in this batch, in batch order
        let mut merits_of: Vec<Vec<&MeritRecord>> = vec![Vec::new(); self.persons.len()];
        for ((_, m), r) in self.merits.iter().zip(&merit_person) {
            if let Ref::Batch(i) = r {
                merits_of[*i as usize].push(m);
            }
        }
        let mut assistance_of: Vec<Vec<&AssistanceRecord>> = vec![Vec::new(); self.persons.len()];
        for ((_, a), r) in self.assistance.iter().zip(&assistance_person) {
            if let Ref::Batch(i) = r {
                assistance_of[*i as usize].push(a);
            }
        }
        let categories = merits_of.iter().zip(&assistance_of).map(|(m, a)| categories_of(m, a)).collect();
        drop((merits_of, assistance_of, households, persons));
        PreparedBatch {
            person_household,
            categories,
            merit_person,
            assistance_person,
            payment_person,
            relationship_persons,
            batch: self,
        }
    }
}

impl PreparedBatch {
    /// `PersonBatch::prepare` where it serves: the PostgreSQL writer needs none of it.
    pub fn of(batch: PersonBatch, store: &Store) -> PreparedBatch {
        match store {
            Store::Sqlite(_) => batch.prepare(),
            Store::Postgres(_) => PreparedBatch {
                batch,
                person_household: Vec::new(),
                categories: Vec::new(),
                merit_person: Vec::new(),
                assistance_person: Vec::new(),
                payment_person: Vec::new(),
                relationship_persons: Vec::new(),
            },
        }
    }

    /// Whether the references were worked out for every row (`prepare`).
    pub(crate) fn is_prepared(&self) -> bool {
        let b = &self.batch;
        self.person_household.len() == b.persons.len()
            && self.categories.len() == b.persons.len()
            && self.merit_person.len() == b.merits.len()
            && self.assistance_person.len() == b.assistance.len()
            && self.payment_person.len() == b.payments.len()
            && self.relationship_persons.len() == b.relationships.len()
    }

    /// The persons of the batch.
    pub fn persons(&self) -> usize {
        self.batch.persons.len()
    }
}

/// A bulk load in progress (see [`Store::begin_bulk`]).
pub struct BulkWriter {
    tx: BulkTx,
    /// SQLite: secondary indexes dropped, to be rebuilt at commit.
    reindexed: bool,
    recorded_by: String,
    now: String,
    persons: usize,
}

enum BulkTx {
    /// `None` once a failed step has dropped (rolled back) the connection.
    Sqlite(Option<rusqlite::Connection>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Search criteria. `communes` is the caller's area (None = whole province).
#[derive(Debug, Clone, Default)]
pub struct PersonQuery {
    pub q: Option<String>,
    pub communes: Option<Vec<String>>,
    pub commune: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub sort: PersonSort,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PersonSort {
    #[default]
    Name,
    Commune,
    Newest,
}

/// The state of a person on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsOf {
    /// The current row holds on that date.
    Current(Box<PersonRow>),
    /// An earlier state (JSON snapshot of the row then).
    Earlier(PersonVersion),
    /// The person was not registered with a state valid then.
    NotYet,
}

/// Proposed changes (maker-checker). Serialised as the request's payload; short-lived
/// in memory, so the size difference of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangePayload {
    CreatePerson {
        person: NewPerson,
        merit: Option<MeritRecord>,
        assistance: Option<AssistanceRecord>,
        payment: Option<PaymentMethod>,
    },
    UpdatePerson {
        patch: PersonPatch,
        valid_from: String,
    },
    AddMerit {
        record: MeritRecord,
    },
    AddAssistance {
        record: AssistanceRecord,
    },
    EndRecord {
        table: String,
        record_id: i64,
        valid_to: String,
    },
}

impl ChangePayload {
    pub fn kind(&self) -> &'static str {
        match self {
            ChangePayload::CreatePerson { .. } => "create_person",
            ChangePayload::UpdatePerson { .. } => "update_person",
            ChangePayload::AddMerit { .. } => "add_merit",
            ChangePayload::AddAssistance { .. } => "add_assistance",
            ChangePayload::EndRecord { .. } => "end_record",
        }
    }
}

/// Fields a profile change may set (None = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonPatch {
    pub full_name: Option<String>,
    pub address_line: Option<String>,
    pub commune_code: Option<String>,
    pub phone: Option<String>,
    pub deceased_on: Option<String>,
    pub ethnicity: Option<String>,
    /// Move into this existing household (its code).
    #[serde(default)]
    pub household_code: Option<String>,
    #[serde(default)]
    pub relation_to_head: Option<String>,
    /// A relationship to add, in force from the change's date.
    #[serde(default)]
    pub add_relationship: Option<NewRelationship>,
}

/// A relationship to record: `kind` is the related person's relation to this one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRelationship {
    pub related_personal_id: String,
    /// `father`, `mother`, `spouse`, `child` or `foster_carer`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ChangeRequest {
    pub id: i64,
    pub kind: String,
    pub person_id: Option<i64>,
    pub commune_code: String,
    pub payload: String,
    pub reason: String,
    pub status: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
}

const CHANGE_COLUMNS: &str = "id, kind, person_id, commune_code, payload, reason, status, proposed_by, proposed_at, \
     decided_by, decided_at, decision_reason";

/// Folded name keys: full (`nguyen van an`) and given-name-first (`an nguyen van`).
pub fn name_keys(full_name: &str) -> (String, String) {
    name_keys_of(domain::text::search_key(full_name))
}

/// `name_keys` from the name's search key.
pub fn name_keys_of(key: String) -> (String, String) {
    let given = match key.rsplit_once(' ') {
        Some((rest, given)) => format!("{given} {rest}"),
        None => key.clone(),
    };
    (key, given)
}

/// The day before an ISO date (for closing a version when the next one starts).
pub fn day_before(iso: &str) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").ok()?;
    d.pred_opt().map(|p| p.format("%Y-%m-%d").to_string())
}

pub(crate) fn categories_of(merits: &[&MeritRecord], assistance: &[&AssistanceRecord]) -> String {
    let mut cats: Vec<&str> = merits.iter().filter(|m| m.valid_to.is_none()).map(|m| m.category.as_str()).collect();
    cats.extend(assistance.iter().filter(|a| a.valid_to.is_none()).map(|a| a.group_code.as_str()));
    cats.sort_unstable();
    cats.dedup();
    if cats.is_empty() {
        String::new()
    } else {
        format!("|{}|", cats.join("|"))
    }
}

fn person_values(p: &NewPerson, household_id: Option<i64>, categories: String, now: &str) -> Vec<Option<String>> {
    let (key, given) = p.name_keys.clone().unwrap_or_else(|| name_keys(&p.full_name));
    let status = if p.deceased_on.is_some() { "deceased" } else { "living" };
    vec![
        Some(p.personal_id.clone()),
        Some(p.full_name.clone()),
        Some(key),
        Some(given),
        Some(p.birth_date.clone()),
        Some(p.sex.clone()),
        Some(p.ethnicity.clone()),
        Some(p.commune_code.clone()),
        Some(p.address_line.clone()),
        p.legacy_address.clone(),
        p.phone.clone(),
        p.deceased_on.clone(),
        p.cmnd.clone(),
        p.bhxh_code.clone(),
        household_id.map(|h| h.to_string()),
        p.relation_to_head.clone(),
        Some(categories),
        Some(status.to_string()),
        Some("1".to_string()),
        Some(p.valid_from.clone()),
        Some(now.to_string()),
        Some(now.to_string()),
    ]
}

const PERSON_INSERT_COLUMNS: &str = "personal_id, full_name, name_key, given_key, birth_date, sex, ethnicity, commune_code, \
     address_line, legacy_address, phone, deceased_on, cmnd, bhxh_code, household_id, relation_to_head, categories, status, \
     version, valid_from, created_at, updated_at";
/// Columns that are integers (bound as numbers on SQLite).
const PERSON_INT_COLUMNS: [usize; 2] = [14, 18];

fn b(v: bool) -> Option<String> {
    Some(if v { "1" } else { "0" }.to_string())
}

fn n(v: Option<i64>) -> Option<String> {
    v.map(|x| x.to_string())
}

fn merit_values(m: &MeritRecord, person_id: i64, by: &str, now: &str) -> Vec<Option<String>> {
    vec![
        Some(person_id.to_string()),
        Some(m.category.clone()),
        Some(m.decision_no.clone()),
        Some(m.decision_date.clone()),
        Some(m.issuer.clone()),
        n(m.injury_rate),
        b(m.type_b),
        b(m.especially_severe),
        m.seniority_from.clone(),
        n(m.martyrs_count),
        n(m.linked_person_id),
        m.relation.clone(),
        Some(m.valid_from.clone()),
        m.valid_to.clone(),
        Some(now.to_string()),
        Some(by.to_string()),
        m.thoat_ly.and_then(b),
        m.award.clone(),
        m.of_category.clone(),
        n(m.of_injury_rate),
        b(m.nurture),
        m.of_deceased.and_then(b),
        b(m.remarried),
        b(m.ao_child),
        b(m.caregiver),
        b(m.studying),
        n(m.seniority_months),
    ]
}
const MERIT_COLUMNS: &str =
    "person_id, category, decision_no, decision_date, issuer, injury_rate, type_b, especially_severe, \
     seniority_from, martyrs_count, linked_person_id, relation, valid_from, valid_to, recorded_at, recorded_by, \
     thoat_ly, award, of_category, of_injury_rate, nurture, of_deceased, remarried, ao_child, caregiver, studying, \
     seniority_months";
const MERIT_INT: [usize; 15] = [0, 5, 6, 7, 9, 10, 16, 19, 20, 21, 22, 23, 24, 25, 26];
/// Boolean columns (PostgreSQL needs them bound as booleans).
const MERIT_BOOL: [usize; 9] = [6, 7, 16, 20, 21, 22, 23, 24, 25];

fn assistance_values(a: &AssistanceRecord, person_id: i64, by: &str, now: &str) -> Vec<Option<String>> {
    vec![
        Some(person_id.to_string()),
        Some(a.group_code.clone()),
        a.disability_level.clone(),
        b(a.single_parent),
        b(a.hiv),
        Some(a.decision_no.clone()),
        Some(a.decision_date.clone()),
        Some(a.valid_from.clone()),
        a.valid_to.clone(),
        Some(now.to_string()),
        Some(by.to_string()),
    ]
}
const ASSISTANCE_COLUMNS: &str =
    "person_id, group_code, disability_level, single_parent, hiv, decision_no, decision_date, valid_from, valid_to, recorded_at, recorded_by";
const ASSISTANCE_INT: [usize; 3] = [0, 3, 4];
const ASSISTANCE_BOOL: [usize; 2] = [3, 4];

fn payment_values(p: &PaymentMethod, person_id: i64) -> Vec<Option<String>> {
    vec![
        Some(person_id.to_string()),
        Some(p.method.clone()),
        p.bank_name.clone(),
        p.account_no.clone(),
        p.account_holder.clone(),
        Some(p.valid_from.clone()),
        p.valid_to.clone(),
    ]
}
const PAYMENT_COLUMNS: &str = "person_id, method, bank_name, account_no, account_holder, valid_from, valid_to";
const PAYMENT_INT: [usize; 1] = [0];

/// Inserts one row inside an open transaction of either backend, each value bound with
/// its SQL type (PostgreSQL needs booleans as booleans, integers as integers).
macro_rules! insert_one {
    ($tx:ident, $table:expr, $columns:expr, $ints:expr, $bools:expr, $values:expr, $what:expr) => {{
        let (ints, bools): (&[usize], &[usize]) = ($ints, $bools);
        let mut qb = QueryBuilder::new(format!("INSERT INTO {} ({}) ", $table, $columns));
        qb.push_values(std::iter::once($values), |mut r, row: Vec<Option<String>>| {
            for (i, val) in row.into_iter().enumerate() {
                if bools.contains(&i) {
                    // NULL stays NULL: some flags are "not known" (thoat_ly, of_deceased)
                    r.push_bind(val.as_deref().map(|v| v == "1"));
                } else if ints.contains(&i) {
                    r.push_bind(val.and_then(|s| s.parse::<i64>().ok()));
                } else {
                    r.push_bind(val);
                }
            }
        });
        qb.build().execute(&mut *$tx).await.map_err(|e| StoreError::from_write(e, $what))?;
    }};
}

/// The PostgreSQL side of `BulkWriter::write`: COPY into each table.
async fn pg_write(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    batch: &PersonBatch,
    recorded_by: &str,
    now: &str,
) -> Result<usize> {
    let now = now.to_string();
    // categories in force per person, computed before insertion
    let mut merits_of: HashMap<&str, Vec<&MeritRecord>> = HashMap::new();
    for (pid, m) in &batch.merits {
        merits_of.entry(pid.as_str()).or_default().push(m);
    }
    let mut assist_of: HashMap<&str, Vec<&AssistanceRecord>> = HashMap::new();
    for (pid, a) in &batch.assistance {
        assist_of.entry(pid.as_str()).or_default().push(a);
    }
    let households: Vec<Vec<Option<String>>> = batch
        .households
        .iter()
        .map(|h| {
            vec![Some(h.code.clone()), Some(h.commune_code.clone()), Some(h.address_line.clone()), Some(now.clone())]
        })
        .collect();
    macro_rules! body {
        ($tx:ident, $insert:expr) => {{
            let before_h: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM households").fetch_one(&mut **$tx).await?;
            $insert($tx, "households", "code, commune_code, address_line, created_at", &[][..], &households)
                .await
                .map_err(|e| match e {
                    StoreError::Query(q) => StoreError::from_write(q, "a household with one of these codes"),
                    other => other,
                })?;
            let hh: Vec<(i64, String)> = sqlx::query_as("SELECT id, code FROM households WHERE id > $1")
                .bind(before_h)
                .fetch_all(&mut **$tx)
                .await?;
            let mut hh_id: HashMap<String, i64> = hh.into_iter().map(|(i, c)| (c, i)).collect();
            // households referenced by code but not in this batch
            for p in &batch.persons {
                if let Some(code) = &p.household_code {
                    if !hh_id.contains_key(code) {
                        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM households WHERE code = $1")
                            .bind(code)
                            .fetch_optional(&mut **$tx)
                            .await?;
                        match id {
                            Some(id) => {
                                hh_id.insert(code.clone(), id);
                            }
                            None => return Err(StoreError::Invalid(format!("household {code} does not exist"))),
                        }
                    }
                }
            }
            let status_rows: Vec<Vec<Option<String>>> = batch
                .households
                .iter()
                .filter(|h| h.status != "none")
                .filter_map(|h| {
                    hh_id
                        .get(&h.code)
                        .map(|id| vec![Some(id.to_string()), Some(h.status.clone()), Some(h.status_from.clone()), None])
                })
                .collect();
            $insert($tx, "household_status", "household_id, status, valid_from, valid_to", &[0][..], &status_rows)
                .await?;
            let before_p: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM persons").fetch_one(&mut **$tx).await?;
            let persons: Vec<Vec<Option<String>>> = batch
                .persons
                .iter()
                .map(|p| {
                    let m = merits_of.get(p.personal_id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                    let a = assist_of.get(p.personal_id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                    person_values(
                        p,
                        p.household_code.as_ref().and_then(|c| hh_id.get(c).copied()),
                        categories_of(m, a),
                        &now,
                    )
                })
                .collect();
            $insert($tx, "persons", PERSON_INSERT_COLUMNS, &PERSON_INT_COLUMNS[..], &persons).await.map_err(
                |e| match e {
                    StoreError::Query(q) => StoreError::from_write(q, "a person with one of these personal IDs"),
                    other => other,
                },
            )?;
            let ids: Vec<(i64, String)> = sqlx::query_as("SELECT id, personal_id FROM persons WHERE id > $1")
                .bind(before_p)
                .fetch_all(&mut **$tx)
                .await?;
            let mut pid: HashMap<String, i64> = ids.into_iter().map(|(i, p)| (p, i)).collect();
            let mut lookup = async |tx: &mut _, p: &str| -> Result<i64> {
                if let Some(id) = pid.get(p) {
                    return Ok(*id);
                }
                let id: Option<i64> = sqlx::query_scalar("SELECT id FROM persons WHERE personal_id = $1")
                    .bind(p)
                    .fetch_optional(tx)
                    .await?;
                let id = id.ok_or_else(|| StoreError::Invalid(format!("person {p} does not exist")))?;
                pid.insert(p.to_string(), id);
                Ok(id)
            };
            let mut rows = Vec::with_capacity(batch.merits.len());
            for (p, m) in &batch.merits {
                rows.push(merit_values(m, lookup(&mut **$tx, p).await?, recorded_by, &now));
            }
            $insert($tx, "merit_records", MERIT_COLUMNS, &MERIT_INT[..], &rows).await?;
            let mut rows = Vec::with_capacity(batch.assistance.len());
            for (p, a) in &batch.assistance {
                rows.push(assistance_values(a, lookup(&mut **$tx, p).await?, recorded_by, &now));
            }
            $insert($tx, "assistance_records", ASSISTANCE_COLUMNS, &ASSISTANCE_INT[..], &rows).await?;
            let mut rows = Vec::with_capacity(batch.payments.len());
            for (p, m) in &batch.payments {
                rows.push(payment_values(m, lookup(&mut **$tx, p).await?));
            }
            $insert($tx, "payment_methods", PAYMENT_COLUMNS, &PAYMENT_INT[..], &rows).await?;
            let mut rows = Vec::with_capacity(batch.relationships.len());
            for (p, r, kind) in &batch.relationships {
                let a = lookup(&mut **$tx, p).await?;
                let b = lookup(&mut **$tx, r).await?;
                rows.push(vec![
                    Some(a.to_string()),
                    Some(b.to_string()),
                    Some(kind.clone()),
                    Some("1900-01-01".to_string()),
                    None,
                ]);
            }
            $insert(
                $tx,
                "relationships",
                "person_id, related_person_id, kind, valid_from, valid_to",
                &[0, 1][..],
                &rows,
            )
            .await?;
            batch.persons.len()
        }};
    }
    Ok(body!(tx, pg_insert))
}

impl BulkWriter {
    /// Writes one batch inside the open transaction. Persons must be new (a duplicate
    /// personal ID fails the batch, and the caller then drops the whole load); records may
    /// refer to persons and households written by earlier batches of the same load.
    pub async fn write(&mut self, batch: PersonBatch) -> Result<usize> {
        match &mut self.tx {
            BulkTx::Sqlite(_) => {
                let prepared = tokio::task::spawn_blocking(move || batch.prepare())
                    .await
                    .map_err(|e| StoreError::Bulk(format!("bulk prepare task: {e}")))?;
                self.write_prepared(prepared).await
            }
            BulkTx::Postgres(tx) => {
                let n = pg_write(tx, &batch, &self.recorded_by, &self.now).await?;
                self.persons += n;
                Ok(n)
            }
        }
    }

    /// `write` of a batch prepared by the caller (see [`PreparedBatch`]). The batch is
    /// freed on another thread: a million small strings take the writer's thread long enough
    /// to matter.
    pub async fn write_prepared(&mut self, prepared: PreparedBatch) -> Result<usize> {
        let n = match &mut self.tx {
            BulkTx::Sqlite(slot) => {
                let conn = slot.take().ok_or_else(|| StoreError::Invalid("the bulk load was abandoned".into()))?;
                let (by, now) = (self.recorded_by.clone(), self.now.clone());
                let (conn, n, prepared) = tokio::task::spawn_blocking(move || {
                    let n = crate::sqlite_bulk::write(&conn, &prepared, &by, &now)?;
                    Ok::<_, StoreError>((conn, n, prepared))
                })
                .await
                .map_err(|e| StoreError::Bulk(format!("bulk write task: {e}")))??;
                *slot = Some(conn);
                tokio::task::spawn_blocking(move || drop(prepared));
                n
            }
            BulkTx::Postgres(tx) => pg_write(tx, &prepared.batch, &self.recorded_by, &self.now).await?,
        };
        self.persons += n;
        Ok(n)
    }

    /// Runs `f` on the SQLite load's connection on a blocking thread. After an error the
    /// connection is dropped (closing it rolls the transaction back) and the load is over.
    async fn on_sqlite<T: Send + 'static>(
        slot: &mut Option<rusqlite::Connection>,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = slot.take().ok_or_else(|| StoreError::Invalid("the bulk load was abandoned".into()))?;
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn)?;
            Ok::<_, StoreError>((conn, out))
        })
        .await
        .map_err(|e| StoreError::Bulk(format!("bulk load task: {e}")))??;
        *slot = Some(conn);
        Ok(out)
    }

    /// Marks a pending request to create this dossier approved, in the load's transaction.
    async fn decide_create(&mut self, id: i64, personal_id: &str, by: &str, now: &str, reason: &str) -> Result<i64> {
        match &mut self.tx {
            BulkTx::Sqlite(slot) => {
                let (pid, by, now, reason) =
                    (personal_id.to_string(), by.to_string(), now.to_string(), reason.to_string());
                Self::on_sqlite(slot, move |c| crate::sqlite_bulk::decide_create(c, id, &pid, &by, &now, &reason)).await
            }
            BulkTx::Postgres(tx) => {
                let created: i64 = sqlx::query_scalar("SELECT id FROM persons WHERE personal_id = $1")
                    .bind(personal_id)
                    .fetch_one(&mut **tx)
                    .await?;
                let n = sqlx::query(
                    "UPDATE change_requests SET status = 'approved', decided_by = $1, decided_at = $2, \
                     decision_reason = $3, person_id = $4 WHERE id = $5 AND status = 'pending'",
                )
                .bind(by)
                .bind(now)
                .bind(reason)
                .bind(created)
                .bind(id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Err(StoreError::Invalid(format!("change request {id} is no longer pending")));
                }
                Ok(created)
            }
        }
    }

    /// Persons written so far.
    pub fn persons(&self) -> usize {
        self.persons
    }

    /// Rebuilds what was dropped for speed, appends the one audit entry of the load and
    /// commits. Returns the number of persons written.
    pub async fn commit(self, audit: &AuditEntry) -> Result<usize> {
        match self.tx {
            BulkTx::Sqlite(slot) => {
                let conn = slot.ok_or_else(|| StoreError::Invalid("the bulk load was abandoned".into()))?;
                let (reindexed, audit) = (self.reindexed, audit.clone());
                tokio::task::spawn_blocking(move || crate::sqlite_bulk::commit(conn, reindexed, &audit))
                    .await
                    .map_err(|e| StoreError::Bulk(format!("bulk commit task: {e}")))??;
            }
            BulkTx::Postgres(mut tx) => {
                append_in_tx!(tx, audit);
                tx.commit().await?;
            }
        }
        Ok(self.persons)
    }

    /// Abandons the load: nothing of it stays. (Dropping the writer rolls back too.)
    pub async fn rollback(self) -> Result<()> {
        match self.tx {
            // closing the connection rolls its transaction back
            BulkTx::Sqlite(slot) => drop(slot),
            BulkTx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

impl Store {
    /// Opens a bulk load (demo, imports, approved new dossiers): one transaction that
    /// batches are written into and that is committed with one audit entry. On SQLite the
    /// transaction takes the write lock at once, on a connection of its own
    /// (`sqlite_bulk`); for more than `SQLITE_REINDEX_ABOVE` expected persons the secondary
    /// indexes are dropped and rebuilt at commit.
    pub async fn begin_bulk(&self, expected_persons: usize, recorded_by: &str) -> Result<BulkWriter> {
        let reindexed = matches!(self, Store::Sqlite(_)) && expected_persons > SQLITE_REINDEX_ABOVE;
        let tx = match self {
            Store::Sqlite(pool) => {
                let path = crate::sqlite::db_path(pool);
                let conn = tokio::task::spawn_blocking(move || {
                    crate::sqlite_bulk::open(&path, SQLITE_BULK_BUSY_TIMEOUT, reindexed, false)
                })
                .await
                .map_err(|e| StoreError::Bulk(format!("bulk open task: {e}")))??;
                BulkTx::Sqlite(Some(conn))
            }
            Store::Postgres(pool) => BulkTx::Postgres(pool.begin().await?),
        };
        Ok(BulkWriter { tx, reindexed, recorded_by: recorded_by.to_string(), now: crate::now_text(), persons: 0 })
    }

    /// Inserts households, persons and their records in one transaction with one audit
    /// entry. Persons must be new; a duplicate personal ID aborts the whole batch.
    /// Returns the number of persons inserted.
    pub async fn insert_person_batch(
        &self,
        batch: &PersonBatch,
        recorded_by: &str,
        audit: &AuditEntry,
    ) -> Result<usize> {
        let mut w = self.begin_bulk(batch.persons.len(), recorded_by).await?;
        if let Err(e) = w.write(batch.clone()).await {
            // the error to report is the write's, not a failure to roll back
            let _ = w.rollback().await;
            return Err(e);
        }
        w.commit(audit).await
    }

    /// Which of these personal IDs are already registered.
    pub async fn existing_personal_ids(&self, ids: &[String]) -> Result<std::collections::HashSet<String>> {
        self.existing_values("persons", "personal_id", ids).await
    }

    /// Which of these household codes exist.
    pub async fn existing_household_codes(&self, codes: &[String]) -> Result<std::collections::HashSet<String>> {
        self.existing_values("households", "code", codes).await
    }

    /// The subset of `values` present in `table.column` (both compile-time names). Large
    /// inputs read the whole column once instead of thousands of `IN (…)` queries.
    async fn existing_values(
        &self,
        table: &str,
        column: &str,
        values: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        if values.len() > 20_000 {
            let wanted: std::collections::HashSet<&str> = values.iter().map(String::as_str).collect();
            let sql = format!("SELECT {column} FROM {table}");
            let all: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(&sql).fetch_all(pool).await)?;
            out.extend(all.into_iter().filter(|p| wanted.contains(p.as_str())));
            return Ok(out);
        }
        for chunk in values.chunks(500) {
            let found: Vec<String> = on_pool!(self, pool => {
                let mut qb = QueryBuilder::new(format!("SELECT {column} FROM {table} WHERE {column} IN ("));
                let mut sep = qb.separated(", ");
                for v in chunk {
                    sep.push_bind(v.clone());
                }
                qb.push(")");
                qb.build_query_scalar().fetch_all(pool).await?
            });
            out.extend(found);
        }
        Ok(out)
    }

    pub async fn person_count(&self) -> Result<i64> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT count(*) FROM persons").fetch_one(pool).await)?;
        Ok(n)
    }

    /// Searches persons. A 12-digit query is a personal ID; otherwise the folded words
    /// are matched as a prefix of the full name (`nguyen van an`) or of the name given
    /// name first (`an`, `hoa nguyen`), and, when neither finds anyone, as words
    /// anywhere in the name. The total is counted up to [`COUNT_CAP`].
    pub async fn search_persons(&self, s: &PersonQuery, page: Page) -> Result<Paged<PersonRow>> {
        let q = s.q.as_deref().map(domain::text::search_key).filter(|q| !q.is_empty());
        let by_id = q.as_deref().filter(|q| q.len() == 12 && q.chars().all(|c| c.is_ascii_digit())).map(str::to_string);
        // modes, tried in turn until one finds someone: 0 = no text, 1 = personal ID,
        // 2 = prefix of the full name, 4 = prefix of the name given name first,
        // 3 = all words anywhere. Each of 2 and 4 is one index range walked in order, so
        // a page costs the same whether 10 or 100,000 persons match.
        // Modes, tried in turn until one finds someone: 0 = no text, 1 = personal ID,
        // 2 = prefix of the full name, 4 = prefix of the name given name first,
        // 3 = all words anywhere. Modes 2 and 4 walk one index range in order, so a page
        // costs the same whether 10 or 100,000 persons match.
        let modes: Vec<u8> = match (&q, &by_id) {
            (None, _) => vec![0],
            (Some(_), Some(_)) => vec![1],
            (Some(_), None) => vec![2, 4, 3],
        };
        let mut result = Paged { items: Vec::new(), total: 0, page: page.page, per_page: page.per_page };
        for mode in modes {
            macro_rules! filtered {
                ($qb:expr) => {{
                    let qb = &mut $qb;
                    qb.push(" WHERE 1 = 1");
                    match mode {
                        1 => {
                            qb.push(" AND personal_id = ").push_bind(by_id.clone().unwrap_or_default());
                        }
                        2 | 4 => {
                            let k = q.clone().unwrap_or_default();
                            // a prefix as a range [k, k + U+FFFF): index-backed on both backends
                            let hi = format!("{k}\u{ffff}");
                            let col = if mode == 2 { "name_key" } else { "given_key" };
                            qb.push(format!(" AND {col} >= "))
                                .push_bind(k)
                                .push(format!(" AND {col} < "))
                                .push_bind(hi);
                        }
                        3 => {
                            for w in q.as_deref().unwrap_or("").split(' ') {
                                let w = w.replace(['%', '_', '\\'], "");
                                qb.push(" AND (' ' || name_key || ' ') LIKE ").push_bind(format!("% {w} %"));
                            }
                        }
                        _ => {}
                    }
                    crate::push_in(qb, "commune_code", s.communes.as_deref());
                    if let Some(c) = &s.commune {
                        qb.push(" AND commune_code = ").push_bind(c.clone());
                    }
                    if let Some(c) = &s.category {
                        qb.push(" AND categories LIKE ").push_bind(format!("%|{}|%", c.replace(['%', '_'], "")));
                    }
                    if let Some(st) = &s.status {
                        qb.push(" AND status = ").push_bind(st.clone());
                    }
                }};
            }
            let order = match s.sort {
                PersonSort::Name if mode == 4 => " ORDER BY given_key, id",
                PersonSort::Name => " ORDER BY name_key, id",
                PersonSort::Commune => " ORDER BY commune_code, name_key, id",
                PersonSort::Newest => " ORDER BY id DESC",
            };
            let (total, items) = on_pool!(self, pool => {
                let mut count = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM persons");
                filtered!(count);
                count.push(" LIMIT ").push_bind(COUNT_CAP + 1).push(") AS capped");
                let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
                let mut qb = QueryBuilder::new(format!("SELECT {PERSON_COLUMNS} FROM persons"));
                filtered!(qb);
                qb.push(order).push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
                let items: Vec<PersonRow> = qb.build_query_as().fetch_all(pool).await?;
                (total, items)
            });
            result = Paged { items, total, page: page.page, per_page: page.per_page };
            if result.total > 0 {
                break;
            }
        }
        Ok(result)
    }

    pub async fn person(&self, id: i64) -> Result<Option<PersonRow>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, PersonRow>(&sql).bind(id).fetch_optional(pool).await)?;
        Ok(row)
    }

    pub async fn person_by_personal_id(&self, pid: &str) -> Result<Option<PersonRow>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE personal_id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, PersonRow>(&sql).bind(pid).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// A household by its code.
    pub async fn household_by_code(&self, code: &str) -> Result<Option<HouseholdRow>> {
        let h = on_pool!(self, pool => sqlx::query_as::<_, HouseholdRow>(
            "SELECT id, code, commune_code, address_line FROM households WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(pool)
        .await)?;
        Ok(h)
    }

    pub async fn household(&self, id: i64) -> Result<Option<(HouseholdRow, Vec<PersonRow>, Option<String>)>> {
        let h: Option<HouseholdRow> = on_pool!(self, pool => sqlx::query_as::<_, HouseholdRow>(
            "SELECT id, code, commune_code, address_line FROM households WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        let Some(h) = h else { return Ok(None) };
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE household_id = $1 ORDER BY birth_date");
        let members = on_pool!(self, pool => sqlx::query_as::<_, PersonRow>(&sql).bind(id).fetch_all(pool).await)?;
        let status: Option<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT status FROM household_status WHERE household_id = $1 AND valid_to IS NULL ORDER BY valid_from DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(Some((h, members, status)))
    }

    pub async fn merit_records(&self, person_id: i64) -> Result<Vec<MeritRecord>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, MeritRecord>(
            "SELECT id, person_id, category, decision_no, decision_date, issuer, injury_rate, type_b, especially_severe, \
             seniority_from, martyrs_count, linked_person_id, relation, valid_from, valid_to, thoat_ly, award, \
             of_category, of_injury_rate, nurture, of_deceased, remarried, ao_child, caregiver, studying, seniority_months \
             FROM merit_records WHERE person_id = $1 ORDER BY valid_from, id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn assistance_records(&self, person_id: i64) -> Result<Vec<AssistanceRecord>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, AssistanceRecord>(
            "SELECT id, person_id, group_code, disability_level, single_parent, hiv, decision_no, decision_date, valid_from, valid_to \
             FROM assistance_records WHERE person_id = $1 ORDER BY valid_from, id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Everything the entitlement engine reads about the beneficiaries of the province (or
    /// of one commune), set-based: one query per table, each ordered by person.
    /// `everyone`: also the persons without any record (for a simulated new group).
    pub async fn entitlement_inputs(&self, commune: Option<&str>, everyone: bool) -> Result<EntitlementInputs> {
        let filter = if commune.is_some() { "AND p.commune_code = $1" } else { "" };
        let who = if everyone {
            "1 = 1"
        } else {
            "(EXISTS (SELECT 1 FROM merit_records m WHERE m.person_id = p.id) \
             OR EXISTS (SELECT 1 FROM assistance_records a WHERE a.person_id = p.id))"
        };
        let persons_sql = format!(
            "SELECT p.id, p.personal_id, p.birth_date, p.deceased_on, p.commune_code, \
             EXISTS (SELECT 1 FROM household_status s WHERE s.household_id = p.household_id AND s.valid_to IS NULL \
                     AND s.status IN ('poor', 'near_poor')) AS poor \
             FROM persons p WHERE {who} {filter} ORDER BY p.id"
        );
        let merit_sql = format!(
            "SELECT m.id, m.person_id, m.category, m.decision_no, m.decision_date, m.issuer, m.injury_rate, m.type_b, \
             m.especially_severe, m.seniority_from, m.martyrs_count, m.linked_person_id, m.relation, m.valid_from, \
             m.valid_to, m.thoat_ly, m.award, m.of_category, m.of_injury_rate, m.nurture, m.of_deceased, m.remarried, \
             m.ao_child, m.caregiver, m.studying, m.seniority_months \
             FROM merit_records m JOIN persons p ON p.id = m.person_id WHERE 1 = 1 {filter} ORDER BY m.person_id, m.valid_from, m.id"
        );
        let assistance_sql = format!(
            "SELECT a.id, a.person_id, a.group_code, a.disability_level, a.single_parent, a.hiv, a.decision_no, \
             a.decision_date, a.valid_from, a.valid_to \
             FROM assistance_records a JOIN persons p ON p.id = a.person_id WHERE 1 = 1 {filter} \
             ORDER BY a.person_id, a.valid_from, a.id"
        );
        macro_rules! fetch {
            ($t:ty, $sql:expr) => {
                async {
                    let sql: &str = $sql;
                    Ok::<_, StoreError>(on_pool!(self, pool => {
                        let q = sqlx::query_as::<_, $t>(sql);
                        let q = match commune { Some(c) => q.bind(c), None => q };
                        q.fetch_all(pool).await
                    })?)
                }
            };
        }
        if let Store::Sqlite(pool) = self {
            // a million rows: read with rusqlite on blocking threads, one connection each
            // (sqlx's SQLite driver spends three times SQLite's own time decoding them)
            let path = crate::sqlite::db_path(pool);
            let c: Option<String> = commune.map(str::to_string);
            let read = |sql: String, which: u8| {
                let (path, c) = (path.clone(), c.clone());
                tokio::task::spawn_blocking(move || {
                    let params: Vec<&dyn rusqlite::ToSql> = match &c {
                        Some(c) => vec![c],
                        None => vec![],
                    };
                    let sql = sql.replace("$1", "?1");
                    let mut out = EntitlementInputs::default();
                    match which {
                        0 => {
                            out.persons =
                                crate::sqlite_bulk::read_all(&path, &sql, &params, crate::sqlite_bulk::beneficiary_row)?
                        }
                        1 => {
                            out.merits =
                                crate::sqlite_bulk::read_all(&path, &sql, &params, crate::sqlite_bulk::merit_row)?
                        }
                        _ => {
                            out.assistance =
                                crate::sqlite_bulk::read_all(&path, &sql, &params, crate::sqlite_bulk::assistance_row)?
                        }
                    }
                    Ok::<_, StoreError>(out)
                })
            };
            let join = |e: tokio::task::JoinError| StoreError::Bulk(format!("read task: {e}"));
            let (a, b, c) = tokio::join!(read(persons_sql, 0), read(merit_sql, 1), read(assistance_sql, 2));
            let (a, b, c) = (a.map_err(join)??, b.map_err(join)??, c.map_err(join)??);
            return Ok(EntitlementInputs { persons: a.persons, merits: b.merits, assistance: c.assistance });
        }
        let (persons, merits, assistance) = tokio::try_join!(
            fetch!(BeneficiaryRow, &persons_sql),
            fetch!(MeritRecord, &merit_sql),
            fetch!(AssistanceRecord, &assistance_sql)
        )?;
        Ok(EntitlementInputs { persons, merits, assistance })
    }

    pub async fn payment_methods(&self, person_id: i64) -> Result<Vec<PaymentMethod>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, PaymentMethod>(
            "SELECT id, person_id, method, bank_name, account_no, account_holder, valid_from, valid_to \
             FROM payment_methods WHERE person_id = $1 ORDER BY valid_from, id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Relationships in both directions (`person_id` is the subject).
    pub async fn relationships(&self, person_id: i64) -> Result<Vec<Relationship>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, Relationship>(
            "SELECT id, person_id, related_person_id, kind, valid_from, valid_to FROM relationships \
             WHERE person_id = $1 OR related_person_id = $1 ORDER BY id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn person_versions(&self, person_id: i64) -> Result<Vec<PersonVersion>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, PersonVersion>(
            "SELECT version, valid_from, valid_to, snapshot, recorded_at, recorded_by, reason, change_id \
             FROM person_versions WHERE person_id = $1 ORDER BY version",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// The person's state on `date` (ISO).
    pub async fn person_as_of(&self, person_id: i64, date: &str) -> Result<Option<AsOf>> {
        let Some(current) = self.person(person_id).await? else { return Ok(None) };
        if date >= current.valid_from.as_str() {
            return Ok(Some(AsOf::Current(Box::new(current))));
        }
        let v = self
            .person_versions(person_id)
            .await?
            .into_iter()
            .find(|v| v.valid_from.as_str() <= date && v.valid_to.as_deref().is_none_or(|t| date <= t));
        Ok(Some(v.map_or(AsOf::NotYet, AsOf::Earlier)))
    }

    // ---- maker-checker ----

    pub async fn propose_change(
        &self,
        person_id: Option<i64>,
        commune_code: &str,
        payload: &ChangePayload,
        reason: &str,
        proposed_by: &str,
        audit: &AuditEntry,
    ) -> Result<i64> {
        let now = crate::now_text();
        let json = serde_json::to_string(payload).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let id = write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO change_requests (kind, person_id, commune_code, payload, reason, proposed_by, proposed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(payload.kind())
            .bind(person_id)
            .bind(commune_code)
            .bind(&json)
            .bind(reason)
            .bind(proposed_by)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::from_write(e, "change request"))?;
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            a.after = Some(json.clone());
            append_in_tx!(tx, &a);
            id
        })?;
        Ok(id)
    }

    pub async fn change_request(&self, id: i64) -> Result<Option<ChangeRequest>> {
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM change_requests WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, ChangeRequest>(&sql).bind(id).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// Change requests by status (and person), restricted to `communes` when given.
    pub async fn change_requests(
        &self,
        status: Option<&str>,
        person_id: Option<i64>,
        communes: Option<&[String]>,
        page: Page,
    ) -> Result<Paged<ChangeRequest>> {
        macro_rules! filtered {
            ($qb:expr) => {{
                let qb = &mut $qb;
                qb.push(" WHERE 1 = 1");
                if let Some(s) = status {
                    qb.push(" AND status = ").push_bind(s.to_string());
                }
                if let Some(p) = person_id {
                    qb.push(" AND person_id = ").push_bind(p);
                }
                crate::push_in(qb, "commune_code", communes);
            }};
        }
        let (total, items) = on_pool!(self, pool => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM change_requests");
            filtered!(count);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            let mut qb = QueryBuilder::new(format!("SELECT {CHANGE_COLUMNS} FROM change_requests"));
            filtered!(qb);
            qb.push(" ORDER BY id DESC LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
            let items: Vec<ChangeRequest> = qb.build_query_as().fetch_all(pool).await?;
            (total, items)
        });
        Ok(Paged { items, total, page: page.page, per_page: page.per_page })
    }

    /// Rejects a pending request (nothing else changes).
    pub async fn reject_change(&self, id: i64, by: &str, reason: &str, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        let done = write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE change_requests SET status = 'rejected', decided_by = $1, decided_at = $2, decision_reason = $3 \
                 WHERE id = $4 AND status = 'pending'",
            )
            .bind(by)
            .bind(&now)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                append_in_tx!(tx, audit);
            }
            n > 0
        })?;
        Ok(done)
    }

    /// Approves a pending request and applies it, with its audit entry, atomically.
    /// Returns the person the change concerns.
    pub async fn approve_change(&self, id: i64, by: &str, reason: &str, audit: &AuditEntry) -> Result<i64> {
        let req = self.change_request(id).await?.ok_or_else(|| StoreError::NotFound(format!("change request {id}")))?;
        if req.status != "pending" {
            return Err(StoreError::Invalid(format!("change request {id} is already {}", req.status)));
        }
        let payload: ChangePayload =
            serde_json::from_str(&req.payload).map_err(|e| StoreError::Invalid(format!("change request {id}: {e}")))?;
        let now = crate::now_text();
        if let ChangePayload::CreatePerson { person, merit, assistance, payment } = &payload {
            // reuse the bulk path for one person (same validation, same transaction rules)
            let batch = PersonBatch {
                persons: vec![person.clone()],
                merits: merit.iter().map(|m| (person.personal_id.clone(), m.clone())).collect(),
                assistance: assistance.iter().map(|a| (person.personal_id.clone(), a.clone())).collect(),
                payments: payment.iter().map(|p| (person.personal_id.clone(), p.clone())).collect(),
                ..Default::default()
            };
            // the dossier, the decision and the audit entry commit together or not at all
            let mut a = audit.clone();
            a.detail = Some(format!("change request {id} approved: new dossier {}", person.personal_id));
            let mut w = self.begin_bulk(1, by).await?;
            let created = match w.write(batch).await {
                Ok(_) => w.decide_create(id, &person.personal_id, by, &now, reason).await,
                Err(e) => Err(e),
            };
            let created = match created {
                Ok(c) => c,
                Err(e) => {
                    // the error to report is the write's, not a failure to roll back
                    let _ = w.rollback().await;
                    return Err(e);
                }
            };
            w.commit(&a).await?;
            return Ok(created);
        }
        let person_id =
            req.person_id.ok_or_else(|| StoreError::Invalid(format!("change request {id} names no person")))?;
        let current =
            self.person(person_id).await?.ok_or_else(|| StoreError::NotFound(format!("person {person_id}")))?;
        let snapshot = serde_json::to_string(&current).map_err(|e| StoreError::Invalid(e.to_string()))?;
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE change_requests SET status = 'approved', decided_by = $1, decided_at = $2, decision_reason = $3 \
                 WHERE id = $4 AND status = 'pending'",
            )
            .bind(by)
            .bind(&now)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::Invalid(format!("change request {id} was decided meanwhile")));
            }
            match &payload {
                ChangePayload::UpdatePerson { patch, valid_from } => {
                    if valid_from.as_str() <= current.valid_from.as_str() {
                        return Err(StoreError::Invalid(format!(
                            "the change takes effect {valid_from}, not after the current state (from {})",
                            current.valid_from
                        )));
                    }
                    let closed_to = day_before(valid_from).ok_or_else(|| StoreError::Invalid(format!("bad date {valid_from}")))?;
                    sqlx::query(
                        "INSERT INTO person_versions (person_id, version, valid_from, valid_to, snapshot, recorded_at, recorded_by, reason, change_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(person_id)
                    .bind(current.version)
                    .bind(&current.valid_from)
                    .bind(&closed_to)
                    .bind(&snapshot)
                    .bind(&now)
                    .bind(by)
                    .bind(&req.reason)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    let household_id = match &patch.household_code {
                        Some(code) => {
                            let hh: Option<i64> = sqlx::query_scalar("SELECT id FROM households WHERE code = $1")
                                .bind(code)
                                .fetch_optional(&mut *tx)
                                .await?;
                            Some(hh.ok_or_else(|| StoreError::Invalid(format!("household {code} does not exist")))?)
                        }
                        None => current.household_id,
                    };
                    if let Some(r) = &patch.add_relationship {
                        let other: Option<i64> = sqlx::query_scalar("SELECT id FROM persons WHERE personal_id = $1")
                            .bind(&r.related_personal_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        let other = other.ok_or_else(|| StoreError::Invalid(format!("person {} does not exist", r.related_personal_id)))?;
                        sqlx::query("INSERT INTO relationships (person_id, related_person_id, kind, valid_from, valid_to) VALUES ($1, $2, $3, $4, NULL)")
                            .bind(person_id)
                            .bind(other)
                            .bind(&r.kind)
                            .bind(valid_from)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| StoreError::from_write(e, "the relationship"))?;
                    }
                    let name = patch.full_name.clone().unwrap_or(current.full_name.clone());
                    let (key, given) = name_keys(&name);
                    let deceased = patch.deceased_on.clone().or(current.deceased_on.clone());
                    sqlx::query(
                        "UPDATE persons SET full_name = $1, name_key = $2, given_key = $3, address_line = $4, commune_code = $5, \
                         phone = $6, deceased_on = $7, ethnicity = $8, status = $9, version = version + 1, valid_from = $10, updated_at = $11, \
                         household_id = $12, relation_to_head = $13 WHERE id = $14",
                    )
                    .bind(&name)
                    .bind(&key)
                    .bind(&given)
                    .bind(patch.address_line.clone().unwrap_or(current.address_line.clone()))
                    .bind(patch.commune_code.clone().unwrap_or(current.commune_code.clone()))
                    .bind(patch.phone.clone().or(current.phone.clone()))
                    .bind(&deceased)
                    .bind(patch.ethnicity.clone().unwrap_or(current.ethnicity.clone()))
                    .bind(if deceased.is_some() { "deceased" } else { "living" })
                    .bind(valid_from)
                    .bind(&now)
                    .bind(household_id)
                    .bind(patch.relation_to_head.clone().or(current.relation_to_head.clone()))
                    .bind(person_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "the changed person"))?;
                }
                ChangePayload::AddMerit { record } => {
                    let values = merit_values(record, person_id, by, &now);
                    insert_one!(tx, "merit_records", MERIT_COLUMNS, &MERIT_INT, &MERIT_BOOL, values, "the merit record");
                }
                ChangePayload::AddAssistance { record } => {
                    let values = assistance_values(record, person_id, by, &now);
                    insert_one!(tx, "assistance_records", ASSISTANCE_COLUMNS, &ASSISTANCE_INT, &ASSISTANCE_BOOL, values, "the assistance record");
                }
                ChangePayload::EndRecord { table, record_id, valid_to } => {
                    let table = match table.as_str() {
                        "merit_records" | "assistance_records" | "payment_methods" => table.as_str(),
                        other => return Err(StoreError::Invalid(format!("unknown record table {other}"))),
                    };
                    let n = sqlx::query(&format!("UPDATE {table} SET valid_to = $1 WHERE id = $2 AND person_id = $3 AND valid_to IS NULL"))
                        .bind(valid_to)
                        .bind(record_id)
                        .bind(person_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n == 0 {
                        return Err(StoreError::Invalid(format!("record {record_id} is not open")));
                    }
                }
                ChangePayload::CreatePerson { .. } => {}
            }
            // categories in force
            let cats: Vec<String> = sqlx::query_scalar(
                "SELECT category FROM merit_records WHERE person_id = $1 AND valid_to IS NULL \
                 UNION SELECT group_code FROM assistance_records WHERE person_id = $1 AND valid_to IS NULL ORDER BY 1",
            )
            .bind(person_id)
            .fetch_all(&mut *tx)
            .await?;
            let cats = if cats.is_empty() { String::new() } else { format!("|{}|", cats.join("|")) };
            sqlx::query("UPDATE persons SET categories = $1 WHERE id = $2").bind(cats).bind(person_id).execute(&mut *tx).await?;
            append_in_tx!(tx, audit);
        })?;
        Ok(person_id)
    }
}

/// COPY-based insert for PostgreSQL with the same signature as `sqlite_insert`.
async fn pg_insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    columns: &str,
    _ints: &[usize],
    rows: &[Vec<Option<String>>],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    // constraint violations as the errors a user can act on, as on SQLite
    crate::bulk::pg_copy_csv_nullable(tx, &format!("COPY {table} ({columns}) FROM STDIN (FORMAT csv)"), rows)
        .await
        .map_err(|e| match e {
            StoreError::Query(q) => StoreError::from_write(q, &format!("a row of {table}")),
            other => other,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(name_keys("Nguyễn Văn An"), ("nguyen van an".into(), "an nguyen van".into()));
        assert_eq!(name_keys("Hoà"), ("hoa".into(), "hoa".into()));
        assert_eq!(day_before("2024-03-01").as_deref(), Some("2024-02-29"));
    }
}
