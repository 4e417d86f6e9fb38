//! Reference data: administrative units, loaded in bulk from the compiled-in gazetteer.

use domain::admin::{Gazetteer, DATA_VERSION};
use domain::text::search_key;
use sqlx::{QueryBuilder, Sqlite};

use crate::{on_pool, Result, Store, StoreError};

/// Rows per multi-row INSERT on SQLite (5 columns × 500 stays far below its variable limit).
const SQLITE_CHUNK: usize = 500;
const META_KEY: &str = "reference.admin_units";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProvinceRow {
    pub code: String,
    pub name: String,
    pub commune_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CommuneRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub province_code: String,
    /// Number of pre-2025 units that went (wholly or partly) into this commune.
    pub predecessor_count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnitCounts {
    pub provinces: i64,
    pub communes: i64,
    pub legacy_communes: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    Loaded(UnitCounts),
    AlreadyCurrent(UnitCounts),
}

/// One table's bulk upsert: columns in the order of `rows`' fields.
struct Upsert<'a> {
    table: &'static str,
    columns: &'static str,
    conflict: &'static str,
    update: &'static str,
    rows: &'a [[String; 5]],
}

const COMMUNE_COLUMNS: &str = "c.code, c.name, c.kind, c.province_code, \
     (SELECT count(*) FROM legacy_communes l WHERE l.successor_code = c.code) AS predecessor_count";

impl Store {
    /// Loads the administrative units into the database if the stored version differs
    /// from the compiled-in one (or `force`). Upserts, so rows referenced by other
    /// tables survive a reload. Runs in one transaction: all or nothing.
    pub async fn load_reference_data(&self, g: &Gazetteer, force: bool) -> Result<LoadOutcome> {
        if !force && self.get_meta(META_KEY).await?.as_deref() == Some(DATA_VERSION) {
            return Ok(LoadOutcome::AlreadyCurrent(self.unit_counts().await?));
        }
        // Rows in column order; the folded search key is computed here (Unicode work
        // the databases cannot do identically).
        let provinces: Vec<[String; 5]> = g
            .provinces()
            .iter()
            .map(|p| {
                [
                    p.code.clone(),
                    p.name.clone(),
                    search_key(&p.name),
                    p.predecessor_codes.join(";"),
                    p.commune_count.to_string(),
                ]
            })
            .collect();
        let communes: Vec<[String; 5]> = g
            .communes()
            .iter()
            .map(|c| {
                [
                    c.code.clone(),
                    c.name.clone(),
                    search_key(&c.name),
                    c.kind.code().to_string(),
                    c.province_code.clone(),
                ]
            })
            .collect();
        let legacy: Vec<[String; 5]> = g
            .legacy_communes()
            .iter()
            .map(|l| {
                [
                    l.code.clone(),
                    l.name.clone(),
                    search_key(&l.name),
                    l.successor_code.clone(),
                    if l.partial { "1" } else { "0" }.to_string(),
                ]
            })
            .collect();
        // Parents before children (foreign keys).
        let tables: [Upsert<'_>; 3] = [
            Upsert {
                table: "provinces",
                columns: "code, name, name_key, predecessor_codes, commune_count",
                conflict: "code",
                update: "name = excluded.name, name_key = excluded.name_key, predecessor_codes = excluded.predecessor_codes, commune_count = excluded.commune_count",
                rows: &provinces,
            },
            Upsert {
                table: "communes",
                columns: "code, name, name_key, kind, province_code",
                conflict: "code",
                update: "name = excluded.name, name_key = excluded.name_key, kind = excluded.kind, province_code = excluded.province_code",
                rows: &communes,
            },
            Upsert {
                table: "legacy_communes",
                columns: "code, name, name_key, successor_code, partial",
                conflict: "code, successor_code",
                update: "name = excluded.name, name_key = excluded.name_key, partial = excluded.partial",
                rows: &legacy,
            },
        ];
        match self {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                // Nothing references legacy rows: replace them so corrected successions
                // do not linger.
                sqlx::query("DELETE FROM legacy_communes").execute(&mut *tx).await?;
                for t in &tables {
                    // Values are bound as text; SQLite's column affinity stores numbers as
                    // INTEGER ("126" → 126, "1" → 1).
                    for chunk in t.rows.chunks(SQLITE_CHUNK) {
                        let mut qb: QueryBuilder<Sqlite> =
                            QueryBuilder::new(format!("INSERT INTO {} ({}) ", t.table, t.columns));
                        qb.push_values(chunk, |mut b, r| {
                            for v in r {
                                b.push_bind(v.as_str());
                            }
                        });
                        qb.push(format!(" ON CONFLICT ({}) DO UPDATE SET {}", t.conflict, t.update));
                        qb.build().execute(&mut *tx).await?;
                    }
                }
                upsert_meta_sqlite(&mut tx, META_KEY, DATA_VERSION).await?;
                tx.commit().await?;
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("DELETE FROM legacy_communes").execute(&mut *tx).await?;
                for t in &tables {
                    // Stream into a staging table, then one set-based upsert.
                    let stage = format!("stage_{}", t.table);
                    sqlx::query(&format!(
                        "CREATE TEMP TABLE {stage} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP",
                        t.table
                    ))
                    .execute(&mut *tx)
                    .await?;
                    let copy = format!("COPY {stage} ({}) FROM STDIN (FORMAT csv)", t.columns);
                    crate::bulk::pg_copy_csv(&mut tx, &copy, t.rows).await?;
                    let upsert = format!(
                        "INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({conflict}) DO UPDATE SET {update}",
                        table = t.table,
                        cols = t.columns,
                        conflict = t.conflict,
                        update = t.update
                    );
                    sqlx::query(&upsert).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "INSERT INTO app_meta (key, value, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(META_KEY)
                .bind(DATA_VERSION)
                .bind(crate::now_text())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }
        let counts = self.unit_counts().await?;
        let (want_p, want_c) = (g.provinces().len() as i64, g.communes().len() as i64);
        if counts.provinces < want_p || counts.communes < want_c {
            return Err(StoreError::ReferenceData(format!(
                "after loading, the database holds {} provinces and {} communes; expected at least {want_p} and {want_c}",
                counts.provinces, counts.communes
            )));
        }
        Ok(LoadOutcome::Loaded(counts))
    }

    pub async fn unit_counts(&self) -> Result<UnitCounts> {
        let (provinces, communes, legacy_communes): (i64, i64, i64) = on_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT count(*) FROM provinces), (SELECT count(*) FROM communes), (SELECT count(*) FROM legacy_communes)",
        )
        .fetch_one(pool)
        .await)?;
        Ok(UnitCounts { provinces, communes, legacy_communes })
    }

    pub async fn provinces(&self) -> Result<Vec<ProvinceRow>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, ProvinceRow>(
            "SELECT code, name, commune_count FROM provinces ORDER BY code",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn province(&self, code: &str) -> Result<Option<ProvinceRow>> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, ProvinceRow>(
            "SELECT code, name, commune_count FROM provinces WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// Communes of a province in Vietnamese alphabetical order of their folded names.
    pub async fn communes_of(&self, province_code: &str) -> Result<Vec<CommuneRow>> {
        let sql =
            format!("SELECT {COMMUNE_COLUMNS} FROM communes c WHERE c.province_code = $1 ORDER BY c.name_key, c.code");
        let rows =
            on_pool!(self, pool => sqlx::query_as::<_, CommuneRow>(&sql).bind(province_code).fetch_all(pool).await)?;
        Ok(rows)
    }

    pub async fn commune(&self, code: &str) -> Result<Option<CommuneRow>> {
        let sql = format!("SELECT {COMMUNE_COLUMNS} FROM communes c WHERE c.code = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, CommuneRow>(&sql).bind(code).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// Communes whose folded name contains the folded query (`bien hoa` finds
    /// `Phường Biên Hòa`), optionally in one province, at most `limit`.
    pub async fn search_communes(
        &self,
        query: &str,
        province_code: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CommuneRow>> {
        let key = search_key(query);
        let pattern = format!("%{}%", key.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let sql = format!(
            "SELECT {COMMUNE_COLUMNS} FROM communes c \
             WHERE c.name_key LIKE $1 ESCAPE '\\' AND ($2 IS NULL OR c.province_code = $2) \
             ORDER BY c.name_key, c.code LIMIT $3"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, CommuneRow>(&sql)
            .bind(&pattern)
            .bind(province_code)
            .bind(limit.clamp(0, 1000))
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Today's commune(s) for a pre-2025 commune code, with `partial` set when the old
    /// unit was split.
    pub async fn legacy_successors(&self, old_code: &str) -> Result<Vec<(CommuneRow, bool)>> {
        let sql = format!(
            "SELECT {COMMUNE_COLUMNS}, l.partial FROM legacy_communes l JOIN communes c ON c.code = l.successor_code \
             WHERE l.code = $1 ORDER BY c.code"
        );
        #[derive(sqlx::FromRow)]
        struct Hit {
            #[sqlx(flatten)]
            commune: CommuneRow,
            partial: bool,
        }
        let rows = on_pool!(self, pool => sqlx::query_as::<_, Hit>(&sql).bind(old_code).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|h| (h.commune, h.partial)).collect())
    }
}

async fn upsert_meta_sqlite(tx: &mut sqlx::Transaction<'_, Sqlite>, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO app_meta (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(crate::now_text())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
