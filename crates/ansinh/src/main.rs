//! The `ansinh` binary: command-line entry point.

/// Writes a line to stdout. A reader that went away early (`ansinh user list | head`) ends the
/// command quietly with success, as other Unix tools do; `println!` would panic instead.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        if let Err(e) = writeln!(o, $($arg)*).and_then(|_| o.flush()) {
            $crate::stdout_failed(e);
        }
    }};
}

/// `out!` without the newline.
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        if let Err(e) = write!(o, $($arg)*).and_then(|_| o.flush()) {
            $crate::stdout_failed(e);
        }
    }};
}

/// Standard output cannot be written: a closed pipe ends the process with success, anything
/// else with an error line.
fn stdout_failed(e: std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing to standard output: {e}");
    std::process::exit(1);
}

mod cli;
mod config;
mod error;
mod http;
mod logging;
mod services;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use tokio::net::TcpListener;

use crate::cli::{
    AuditCommand, CalendarCommand, Cli, Command, ConfigCommand, EntitlementsCommand, ImportCommand, IntegrityCommand,
    PaymentsCommand, PlanCommand, RulesCommand, ServeArgs, UserCommand,
};
use crate::config::{Config, Flags, Source};
use crate::error::AppError;
use crate::services::setup::{self, DemoOutcome};
use crate::services::AppState;

/// mimalloc instead of glibc malloc: bulk imports and entitlement runs allocate and free
/// millions of short strings, where glibc's allocator spent a third of the import's time
/// (perf, docs/benchmarks.md). Built with `no_thp`: mimalloc returns freed pages to the OS
/// quickly, and re-faulting them as 2 MB transparent huge pages cost more than it saved.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // One line, like every other error: clap's first line without its usage block.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            eprintln!("error: {first} (see ansinh --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, what is wrong and what to do; never a backtrace.
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn flags(cli: &Cli, serve: Option<&ServeArgs>) -> Flags {
    Flags {
        config: cli.global.config.clone(),
        database_url: cli.global.database_url.clone(),
        bind: serve.and_then(|s| s.bind.clone()),
        port: serve.and_then(|s| s.port),
        log_format: cli.global.log_format.clone(),
        log_level: cli.global.log_level.clone(),
    }
}

/// A database command's store: configuration, quiet logging, the store opened and migrated.
async fn cli_store(cli: &Cli) -> Result<(store::Store, domain::Gazetteer), AppError> {
    let c = load_config(&flags(cli, None))?;
    logging::init(c.log_format.value, "warn");
    let url = c.database_url()?;
    let g = setup::gazetteer()?;
    let store = setup::open_store(&url, &c, &g).await?;
    // deadlines computed by commands use the recorded calendar too
    services::calendar::refresh(&store).await?;
    Ok((store, g))
}

fn load_config(f: &Flags) -> Result<Config, AppError> {
    Ok(Config::load(f, &|k| std::env::var(k).ok())?)
}

async fn run(cli: Cli) -> Result<(), AppError> {
    match &cli.command {
        Command::Payments(cmd) => {
            let (store, g) = cli_store(&cli).await?;
            let res = cli_payments(&store, &g, cmd).await;
            store.close().await;
            res
        }
        Command::Plan(cmd) => {
            if let PlanCommand::Template { output } = cmd {
                let file = services::plan_file::parse_toml(services::plan_file::SEED_PLAN_TOML)
                    .map_err(|_| AppError::Internal("the compiled-in seed plan".into()))?;
                let bytes =
                    services::plan_file::to_xlsx(&file).map_err(|e| AppError::Internal(format!("xlsx: {e}")))?;
                std::fs::write(output, bytes).map_err(|e| AppError::io(format!("writing {}", output.display()), e))?;
                out!("template written to {}", output.display());
                return Ok(());
            }
            let (store, g) = cli_store(&cli).await?;
            let res = cli_plan(&store, &g, cmd).await;
            store.close().await;
            res
        }
        Command::Calendar(cmd) => {
            let (store, _) = cli_store(&cli).await?;
            let res = cli_calendar(&store, cmd).await;
            store.close().await;
            res
        }
        Command::Integrity(cmd) => {
            let (store, _) = cli_store(&cli).await?;
            let res = cli_integrity(&store, cmd).await;
            store.close().await;
            res
        }
        Command::Dedup { input, registry, output, pairs, report, model, duplicate_at, review_at } => {
            for (flag, v) in [("duplicate-at", duplicate_at), ("review-at", review_at)] {
                if !(0.0..=1.0).contains(v) {
                    return Err(AppError::Invalid(format!("--{flag} {v}: a probability between 0 and 1")));
                }
            }
            if review_at > duplicate_at {
                return Err(AppError::Invalid("--review-at must not be above --duplicate-at".into()));
            }
            let config = linkage::Config { duplicate_at: *duplicate_at, review_at: *review_at, ..Default::default() };
            let started = Instant::now();
            let mut data = match input {
                Some(f) => {
                    let file =
                        std::fs::File::open(f).map_err(|e| AppError::io(format!("reading {}", f.display()), e))?;
                    services::dedup::read_input(file)?
                }
                None => {
                    debug_assert!(*registry);
                    let (store, _) = cli_store(&cli).await?;
                    let res = services::integrity::registry_records(&store).await;
                    store.close().await;
                    res?
                }
            };
            if !data.missing_columns.is_empty() {
                eprintln!("note: no column {}: compared without", data.missing_columns.join(", "));
            }
            let outcome = services::dedup::run(&mut data, &config);
            let write = |p: &std::path::Path, b: Vec<u8>| {
                std::fs::write(p, b).map_err(|e| AppError::io(format!("writing {}", p.display()), e))
            };
            let (bytes, s) = services::dedup::clusters_csv(&data, &outcome)?;
            write(output, bytes)?;
            if let Some(p) = pairs {
                write(p, services::dedup::pairs_csv(&data, &outcome)?)?;
            }
            if let Some(p) = report {
                write(p, services::dedup::issues_csv(&data)?)?;
            }
            if let Some(p) = model {
                let doc = serde_json::json!({
                    "config": config,
                    "comparisons": linkage::COMPARISONS.iter().map(|c| serde_json::json!({"name": c.name, "levels": c.levels})).collect::<Vec<_>>(),
                    "blocking_keys": linkage::block::KEYS,
                    "model": outcome.model,
                    "sessions": outcome.sessions,
                    "stats": outcome.stats,
                });
                write(p, serde_json::to_vec_pretty(&doc).map_err(|e| AppError::Internal(e.to_string()))?)?;
            }
            let st = &outcome.stats;
            out!(
                "{} records ({} not compared{}), {} candidate pairs, {} duplicate pairs in {} clusters ({} records), {} pairs to review; written to {} ({:.2} s)",
                s.records,
                s.not_compared,
                if s.not_compared > 0 && report.is_none() { ", see --report" } else { "" },
                st.candidate_pairs,
                s.duplicate_pairs,
                s.clusters,
                s.records_in_clusters,
                s.review_pairs,
                output.display(),
                started.elapsed().as_secs_f64()
            );
            if st.blocking.skipped_blocks > 0 {
                eprintln!(
                    "note: {} blocks larger than {} records were skipped ({} records in them)",
                    st.blocking.skipped_blocks, config.max_block, st.blocking.skipped_records
                );
            }
            Ok(())
        }
        Command::Version => {
            out!("ansinh {}", env!("CARGO_PKG_VERSION"));
            out!("reference data: {}", domain::admin::DATA_VERSION);
            out!("database schema: migration {}", store::LATEST_MIGRATION);
            out!("database backends: sqlite, postgres");
            Ok(())
        }
        Command::Config(ConfigCommand::Example) => {
            out_raw!("{}", config::EXAMPLE);
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            let c = load_config(&flags(&cli, None))?;
            c.database_url()?;
            match &c.file {
                Some(p) => out!("# configuration OK (file {})", p.display()),
                None => out!("# configuration OK (no file; defaults, environment and flags)"),
            }
            out_raw!("{}", c.describe());
            Ok(())
        }
        Command::Migrate => {
            let c = load_config(&flags(&cli, None))?;
            logging::init(c.log_format.value, &c.log_level.value);
            let url = c.database_url()?;
            let g = setup::gazetteer()?;
            let store = setup::open_store(&url, &c, &g).await?;
            let counts = store.unit_counts().await?;
            out!(
                "database {url} is up to date: {} provinces, {} communes, {} pre-2025 communes",
                counts.provinces,
                counts.communes,
                counts.legacy_communes
            );
            store.close().await;
            Ok(())
        }
        Command::User(cmd) => {
            let c = load_config(&flags(&cli, None))?;
            logging::init(c.log_format.value, "warn");
            let url = c.database_url()?;
            let store = setup::open_store(&url, &c, &setup::gazetteer()?).await?;
            let res = cli_user(&store, cmd).await;
            store.close().await;
            res
        }
        Command::Rules(RulesCommand::Check { policies }) => {
            let packs = services::entitlements::load(policies.as_deref())?;
            out_raw!("{}", services::entitlements::check_report(&packs));
            Ok(())
        }
        Command::Entitlements(EntitlementsCommand::Compute {
            facts,
            registry,
            commune,
            person,
            from,
            to,
            paid,
            output,
            policies,
        }) => {
            let packs = services::entitlements::load(policies.as_deref())?;
            let month = |flag: &str, v: &str| {
                v.parse::<domain::Month>().map_err(|e| AppError::Invalid(format!("--{flag} {v}: {}", e.vi())))
            };
            let (from, to) = (month("from", from)?, month("to", to)?);
            let read = |p: &std::path::Path| {
                std::fs::read_to_string(p).map_err(|e| AppError::io(format!("reading {}", p.display()), e))
            };
            let people = match facts {
                Some(f) => services::entitlements::read_facts(&read(f)?)?,
                None => {
                    debug_assert!(*registry);
                    let (store, _) = cli_store(&cli).await?;
                    let res = services::entitlements::registry_people(&store, commune.as_deref(), false).await;
                    store.close().await;
                    let mut people: Vec<rules::PersonFacts> = res?.into_iter().map(|(_, f)| f).collect();
                    if let Some(p) = person {
                        people.retain(|f| &f.person == p);
                        if people.is_empty() {
                            return Err(AppError::NotFound(format!("person {p} among the registry's beneficiaries")));
                        }
                    }
                    people
                }
            };
            let paid =
                paid.as_deref().map(|p| read(p).and_then(|t| services::entitlements::read_paid(&t))).transpose()?;
            let started = Instant::now();
            let (bytes, rows, total) = services::entitlements::compute_csv(&packs, &people, from, to, paid.as_deref())?;
            std::fs::write(output, bytes).map_err(|e| AppError::io(format!("writing {}", output.display()), e))?;
            out!(
                "{} persons, {from}–{to}: {rows} {} totalling {total}, written to {} ({:.2} s)",
                people.len(),
                if paid.is_some() { "differences" } else { "lines" },
                output.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Entitlements(EntitlementsCommand::Explain { facts, person, month, policies }) => {
            let packs = services::entitlements::load(policies.as_deref())?;
            let m = month
                .parse::<domain::Month>()
                .map_err(|e| AppError::Invalid(format!("--month {month}: {}", e.vi())))?;
            let text =
                std::fs::read_to_string(facts).map_err(|e| AppError::io(format!("reading {}", facts.display()), e))?;
            let people = services::entitlements::read_facts(&text)?;
            out_raw!("{}", services::entitlements::explain_text(&packs, &people, person, m)?);
            Ok(())
        }
        Command::Simulate { set, add_group, from, to, commune, output, policies } => {
            let packs = services::entitlements::load(policies.as_deref())?;
            let overrides = set
                .iter()
                .map(|s| {
                    s.parse::<services::entitlements::Override>()
                        .map_err(|e| AppError::Invalid(format!("--set {s}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let month = |flag: &str, v: &str| {
                v.parse::<domain::Month>().map_err(|e| AppError::Invalid(format!("--{flag} {v}: {}", e.vi())))
            };
            let (from, to) = (month("from", from)?, month("to", to)?);
            let (store, g) = cli_store(&cli).await?;
            let started = Instant::now();
            let added = add_group
                .as_deref()
                .map(|g| {
                    g.parse::<services::entitlements::AddedGroup>()
                        .map_err(|e| AppError::Invalid(format!("--add-group {g}: {e}")))
                })
                .transpose()?;
            let res = services::entitlements::simulate(
                &store,
                &packs,
                commune.as_deref(),
                from,
                to,
                &overrides,
                added.as_ref(),
            )
            .await;
            store.close().await;
            let sim = res?;
            out_raw!("{}", services::entitlements::simulation_text(&sim, &g));
            out!("({} persons, {:.1} s)", sim.baseline.persons, started.elapsed().as_secs_f64());
            if let Some(path) = output {
                std::fs::write(path, services::entitlements::simulation_csv(&sim)?)
                    .map_err(|e| AppError::io(format!("writing {}", path.display()), e))?;
                out!("written to {}", path.display());
            }
            Ok(())
        }
        Command::Import(ImportCommand::Template) => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&services::import::template_csv())
                .map_err(|e| AppError::io("writing the template", e))?;
            Ok(())
        }
        Command::Import(ImportCommand::Persons { file, dry_run, valid_only, report, allow_duplicates }) => {
            let c = load_config(&flags(&cli, None))?;
            logging::init(c.log_format.value, "warn");
            let url = c.database_url()?;
            let g = Arc::new(setup::gazetteer()?);
            let bytes = std::fs::read(file).map_err(|e| AppError::io(format!("reading {}", file.display()), e))?;
            let store = setup::open_store(&url, &c, &g).await?;
            let province = setup::installation_province(&store).await?;
            let mode = if *dry_run {
                services::import::Mode::DryRun
            } else if *valid_only {
                services::import::Mode::ValidRowsOnly
            } else {
                services::import::Mode::AllOrNothing
            };
            let started = Instant::now();
            eprintln!("validating {} ({} bytes)…", file.display(), bytes.len());
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("file");
            let progress = |p: services::import::Progress| {
                use services::import::Progress as P;
                match p {
                    P::Read { rows } => eprintln!("read {rows} rows; validating…"),
                    P::Validated { done, total } => eprintln!("validated {done} of {total} rows…"),
                    P::Written { rows } => eprintln!("written {rows} persons (not yet committed)…"),
                    P::Committing => eprintln!("building indexes and committing…"),
                }
            };
            let res = services::import::import(
                &store,
                &g,
                &services::authz::Ctx::cli(),
                &province,
                name,
                &bytes,
                mode,
                services::import::Options {
                    allow_duplicates: *allow_duplicates,
                    stop_share: c.import_duplicate_share.value,
                },
                &progress,
            )
            .await;
            store.close().await;
            let r = res?;
            out!(
                "{} rows, {} valid, {} imported{}, {} problems, {} pre-2025 commune codes mapped, {:.1} s",
                r.rows,
                r.valid_rows,
                r.imported,
                if r.dry_run { " (dry run)" } else { "" },
                r.errors.len(),
                r.mapped_communes,
                started.elapsed().as_secs_f64()
            );
            if !r.possible_duplicates.is_empty() {
                out!(
                    "{} rows look like persons already registered or other rows ({:.0}% duplicate the registry):",
                    r.possible_duplicates.len(),
                    r.registry_duplicate_share * 100.0
                );
                for d in r.possible_duplicates.iter().take(10) {
                    match (&d.registered_personal_id, d.other_row) {
                        (Some(p), _) => out!("  dòng {} ≈ {p} trong sổ ({:.0}%)", d.row, d.probability * 100.0),
                        (None, Some(o)) => out!("  dòng {} ≈ dòng {o} ({:.0}%)", d.row, d.probability * 100.0),
                        _ => {}
                    }
                }
            }
            for e in r.errors.iter().take(20) {
                out!("  dòng {} · {} · «{}»: {}", e.row, e.column, e.value, e.reason);
            }
            if r.errors.len() > 20 {
                out!("  … and {} more (see --report)", r.errors.len() - 20);
            }
            if let Some(path) = report {
                let bytes = if path.extension().is_some_and(|e| e == "xlsx") {
                    http::registry_ui::xlsx_bytes(
                        &["Dòng", "Cột", "Giá trị", "Lý do"],
                        &services::import::errors_rows(&r.errors),
                        "Loi",
                    )?
                } else {
                    services::import::errors_csv(&r.errors)
                };
                std::fs::write(path, bytes).map_err(|e| AppError::io(format!("writing {}", path.display()), e))?;
                out!("error report written to {}", path.display());
            }
            if !r.errors.is_empty() && mode != services::import::Mode::ValidRowsOnly {
                return Err(AppError::Refused(format!(
                    "{} problems in {name}; nothing was imported{}",
                    r.errors.len(),
                    if mode == services::import::Mode::DryRun { " (dry run)" } else { "" }
                )));
            }
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let c = load_config(&flags(&cli, None))?;
            logging::init(c.log_format.value, "warn");
            let url = c.database_url()?;
            let store = setup::open_store(&url, &c, &setup::gazetteer()?).await?;
            let res = services::audit::verify(&store, &services::authz::Ctx::cli()).await;
            store.close().await;
            match res? {
                store::VerifyOutcome::Intact { entries, head_hash } => {
                    out!("audit trail intact: {entries} entries, head {head_hash}");
                    Ok(())
                }
                store::VerifyOutcome::Broken { seq, reason } => {
                    Err(AppError::Refused(format!("audit trail broken at entry {seq}: {reason}")))
                }
            }
        }
        Command::Backup { output } => {
            let c = load_config(&flags(&cli, None))?;
            logging::init(c.log_format.value, &c.log_level.value);
            let url = c.database_url()?;
            let target = services_backup::run(&url, &c, output.clone()).await?;
            out!("backup written to {}", target.display());
            Ok(())
        }
        Command::Serve(args) => {
            let c = load_config(&flags(&cli, Some(args)))?;
            logging::init(c.log_format.value, &c.log_level.value);
            let url = c.database_url()?;
            let g = setup::gazetteer()?;
            let packs = services::entitlements::load(args.policies.as_deref())?;
            let pack_source = services::entitlements::pack_source(args.policies.as_deref())?;
            // Bind first: a port in use is reported before touching the database.
            let listener = bind(c.bind.value).await?;
            let store = setup::open_store(&url, &c, &g).await?;
            serve(listener, store, (g, packs, pack_source), &url, &c).await
        }
        Command::Demo { serve: args, no_serve, persons, seed, no_payments } => {
            let mut c = load_config(&flags(&cli, Some(args)))?;
            if c.database_url.source == Source::Default {
                c.database_url.value = config::DEFAULT_DEMO_DATABASE_URL.to_string();
            }
            // the demo shows the portal's SMS codes in its log
            if c.portal_sms.source == Source::Default {
                c.portal_sms.value = "log".into();
            }
            logging::init(c.log_format.value, &c.log_level.value);
            let url = c.database_url()?;
            let g = setup::gazetteer()?;
            let packs = services::entitlements::load(args.policies.as_deref())?;
            let pack_source = services::entitlements::pack_source(args.policies.as_deref())?;
            let listener = if *no_serve { None } else { Some(bind(c.bind.value).await?) };
            let store = setup::open_store(&url, &c, &g).await?;
            let started = Instant::now();
            let history = (!*no_payments).then_some((&packs, &pack_source));
            match setup::prepare_demo(&store, &g, *persons, *seed, history).await? {
                DemoOutcome::Created => out!(
                    "demo database created: {url} (Tỉnh Đồng Nai, 95 communes, {persons} persons in {:.1} s)",
                    started.elapsed().as_secs_f64()
                ),
                DemoOutcome::AlreadyPresent => out!("demo database already present: {url}"),
            }
            out_raw!("{}", setup::demo_logins());
            match listener {
                None => {
                    store.close().await;
                    Ok(())
                }
                Some(l) => serve(l, store, (g, packs, pack_source), &url, &c).await,
            }
        }
    }
}

/// The context of a CLI step taken as a named user account (with its rights and area).
async fn cli_as(store: &store::Store, username: &str) -> Result<services::authz::Ctx, AppError> {
    let policy = services::authz::Policy::load(store).await?;
    let user = store
        .user_by_username(username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("user '{username}' (--as)")))?;
    let p = services::auth::principal_for(store, &policy, user)
        .await?
        .ok_or_else(|| AppError::Refused(format!("user '{username}' is disabled")))?;
    Ok(services::authz::Ctx {
        principal: Some(p),
        ip: None,
        request_id: Some(format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()))),
        operator: false,
    })
}

async fn cli_calendar(store: &store::Store, cmd: &CalendarCommand) -> Result<(), AppError> {
    use services::calendar as cal;
    let ctx = services::authz::Ctx::cli();
    let show = |y: &cal::Year| {
        let origin = match y.origin.as_str() {
            "recorded" => "recorded in the database",
            "compiled" => "compiled-in data",
            "dry_run" => "as it would be (dry run, nothing recorded)",
            _ => "computed by the Labour Code's rule (no announced schedule)",
        };
        out!("{}: {} weekdays off, {} weekend days worked — {origin}", y.year, y.holidays, y.workdays);
        for d in &y.days {
            let kind = if d.kind == "holiday" { "nghỉ" } else { "làm bù" };
            let day = services::days::date(&d.day).map(domain::calendar::format_date).unwrap_or_default();
            out!("  {day}  {kind:<7} {}  ({})", d.name, d.source);
        }
    };
    match cmd {
        CalendarCommand::Show { year } => {
            show(&cal::year(store, *year).await?);
            Ok(())
        }
        CalendarCommand::Template { year, output } => {
            let text = cal::template(store, *year).await?;
            std::fs::write(output, text).map_err(|e| AppError::io(format!("writing {}", output.display()), e))?;
            out!("{year} written to {}", output.display());
            Ok(())
        }
        CalendarCommand::Import { file, dry_run } => {
            let text =
                std::fs::read_to_string(file).map_err(|e| AppError::io(format!("reading {}", file.display()), e))?;
            show(&cal::import(store, &ctx, &text, *dry_run).await?);
            Ok(())
        }
    }
}

async fn cli_plan(store: &store::Store, g: &domain::Gazetteer, cmd: &PlanCommand) -> Result<(), AppError> {
    use services::plans as pl;
    let ctx = services::authz::Ctx::cli();
    let today = services::plans::today_vn();
    let province = setup::installation_province(store).await?;
    match cmd {
        PlanCommand::Import { file, dry_run } => {
            let bytes = std::fs::read(file).map_err(|e| AppError::io(format!("reading {}", file.display()), e))?;
            let (id, tasks, inds) = pl::import(store, g, &ctx, &province, &bytes, *dry_run).await?;
            if *dry_run {
                out!("{}: valid — {tasks} tasks, {inds} indicators (dry run, nothing imported)", file.display());
            } else {
                out!("plan {id} imported: {tasks} tasks, {inds} indicators");
            }
            Ok(())
        }
        PlanCommand::Template { .. } => Ok(()),
        PlanCommand::Status { plan: None } => {
            for p in pl::plans(store, &ctx).await? {
                out!("{:>4}  {:<14} {}  {}", p.id, p.number, p.issued_on, p.title.chars().take(90).collect::<String>());
            }
            Ok(())
        }
        PlanCommand::Status { plan: Some(id) } => {
            let cache = pl::ComputedCache::default();
            let d = pl::dashboard(store, &cache, &ctx, *id, today, &province).await?;
            for t in &d.view.tasks {
                let due = t.state.due.map(domain::calendar::format_date).unwrap_or_default();
                out!(
                    "{:<10} {:<14} {:<12} {:<10} {}",
                    t.code,
                    t.lead,
                    t.state.status.code(),
                    due,
                    t.deadline.label_en()
                );
            }
            out!("");
            for a in &d.by_agency {
                out!(
                    "{:>2}. {:<14} {} tasks, {} overdue ({}‰)",
                    a.rank,
                    a.agency,
                    a.total,
                    a.overdue,
                    a.overdue_per_mille
                );
            }
            Ok(())
        }
        PlanCommand::Export { plan, output } => {
            let cache = pl::ComputedCache::default();
            let d = pl::dashboard(store, &cache, &ctx, *plan, today, &province).await?;
            let bytes = pl::dashboard_xlsx(&d, true)?;
            std::fs::write(output, bytes).map_err(|e| AppError::io(format!("writing {}", output.display()), e))?;
            out!("report written to {}", output.display());
            Ok(())
        }
    }
}

async fn cli_integrity(store: &store::Store, cmd: &IntegrityCommand) -> Result<(), AppError> {
    use services::integrity as integ;
    match cmd {
        IntegrityCommand::Run { as_user } => {
            let ctx = match as_user {
                Some(u) => cli_as(store, u).await?,
                None => services::authz::Ctx::cli(),
            };
            let r = integ::run(store, &ctx, chrono::Utc::now().date_naive()).await?;
            out!(
                "run {}: {} persons, {} candidate pairs, {} new cases ({:.1} s)",
                r.run_id,
                r.persons,
                r.candidate_pairs,
                r.new_cases,
                r.seconds
            );
            for (code, _, en) in integ::CHECKS {
                out!("  {:<22} {:>6}  {en}", code, r.found.get(code).copied().unwrap_or(0));
            }
            Ok(())
        }
        IntegrityCommand::Cases { check, status, as_user } => {
            let ctx = cli_as(store, as_user).await?;
            let q =
                store::integrity::CaseQuery { check_code: check.clone(), status: status.clone(), ..Default::default() };
            let page = integ::cases(store, &ctx, q, store::Page::new(Some(1), Some(200))).await?;
            for c in &page.items {
                out!("{:>6}  {:<22} {:<15} {}  {}", c.id, c.check_code, c.status, c.commune_code, c.summary);
            }
            out!("{} of {} cases", page.items.len(), page.total);
            Ok(())
        }
    }
}

async fn cli_payments(store: &store::Store, g: &domain::Gazetteer, cmd: &PaymentsCommand) -> Result<(), AppError> {
    use services::payments as pay;
    let show = |c: &store::payments::CycleRow| {
        out!(
            "cycle {}  {}  {:<8} {:<10} {} lines, {} to pay, {}  {}",
            c.id,
            c.month,
            c.kind,
            c.status,
            c.lines,
            c.payable_lines,
            domain::Money::from_dong(c.total),
            c.title
        );
    };
    match cmd {
        PaymentsCommand::List => {
            for c in store.cycles(store::Page::new(Some(1), Some(store::Page::MAX_PER_PAGE))).await?.items {
                show(&c);
            }
        }
        PaymentsCommand::Generate { month, adhoc, cycle, as_user, policies } => {
            let ctx = cli_as(store, as_user).await?;
            let m: domain::Month = month
                .parse()
                .map_err(|e: domain::calendar::DateError| AppError::Invalid(format!("--month {month}: {}", e.vi())))?;
            let packs = services::entitlements::load(policies.as_deref())?;
            let source = services::entitlements::pack_source(policies.as_deref())?;
            let id = match cycle {
                Some(id) => *id,
                None if *adhoc => pay::create(store, &ctx, m, true).await?.id,
                None => {
                    let existing = store
                        .cycles(store::Page::new(Some(1), Some(store::Page::MAX_PER_PAGE)))
                        .await?
                        .items
                        .into_iter()
                        .find(|c| c.kind == "monthly" && c.month == services::entitlements::iso(m));
                    match existing {
                        Some(c) => c.id,
                        None => pay::create(store, &ctx, m, false).await?.id,
                    }
                }
            };
            let r = pay::generate(store, &packs, &source, &ctx, id).await?;
            out!(
                "cycle {}: {} lines, {} to pay = {}, {} held, {} stopped, {} recovery; arrears from {}; pack {}; \
                 {:.1} s (read {:.1}, compute {:.1}, write {:.1})",
                r.cycle_id,
                r.lines,
                r.payable_lines,
                domain::Money::from_dong(r.total),
                r.held,
                r.stopped,
                r.recovery,
                r.arrears_from.as_deref().unwrap_or("-"),
                &r.pack_version[..12],
                r.seconds,
                r.read_seconds,
                r.compute_seconds,
                r.write_seconds
            );
        }
        PaymentsCommand::Check { cycle, as_user } => {
            show(&pay::check(store, &cli_as(store, as_user).await?, *cycle).await?)
        }
        PaymentsCommand::Approve { cycle, as_user } => {
            show(&pay::approve(store, &cli_as(store, as_user).await?, *cycle).await?)
        }
        PaymentsCommand::Close { cycle, as_user } => {
            show(&pay::close(store, &cli_as(store, as_user).await?, *cycle).await?)
        }
        PaymentsCommand::Export { cycle, out, as_user } => {
            let ctx = cli_as(store, as_user).await?;
            let packs = services::entitlements::load(None)?;
            std::fs::create_dir_all(out).map_err(|e| AppError::io(format!("creating {}", out.display()), e))?;
            let write = |name: String, bytes: &[u8]| {
                let path = out.join(name);
                std::fs::write(&path, bytes).map_err(|e| AppError::io(format!("writing {}", path.display()), e))
            };
            let c = pay::cycle_or_404(store, *cycle).await?;
            let c = if c.status == "approved" { pay::export(store, &ctx, *cycle).await? } else { c };
            let (bank, n, total) = pay::bank_file(store, &ctx, *cycle).await?;
            write(format!("cycle-{cycle}-bank.csv"), &bank)?;
            out!("bank file: {n} transfers, {}", domain::Money::from_dong(total));
            write(format!("cycle-{cycle}-results-template.csv"), &pay::results_template(store, &ctx, *cycle).await?)?;
            let detail = pay::detail(store, &ctx, *cycle).await?;
            write(format!("cycle-{cycle}-summary.csv"), &pay::summary_csv(&detail, g, &packs)?)?;
            let (mut lists, mut cash) = (0, 0i64);
            for (commune, _, _) in &detail.summary.by_commune {
                let list = pay::pay_list(store, g, &packs, &ctx, *cycle, commune).await?;
                if list.rows.is_empty() {
                    continue;
                }
                write(format!("cycle-{cycle}-list-{commune}.xlsx"), &pay::pay_list_xlsx(&list)?)?;
                lists += 1;
                cash += list.total;
            }
            out!("pay-point lists: {lists} communes, {} in cash", domain::Money::from_dong(cash));
            show(&c);
        }
        PaymentsCommand::Reconcile { cycle, file, as_user } => {
            let ctx = cli_as(store, as_user).await?;
            let bytes = std::fs::read(file).map_err(|e| AppError::io(format!("reading {}", file.display()), e))?;
            let r = pay::reconcile(store, &ctx, *cycle, &bytes).await?;
            if !r.errors.is_empty() {
                for e in &r.errors {
                    eprintln!("row {}, column {}, value '{}': {}", e.row, e.column, e.value, e.reason);
                }
                return Err(AppError::Invalid(format!(
                    "{} problems in {}: nothing was recorded",
                    r.errors.len(),
                    file.display()
                )));
            }
            out!(
                "recorded {} results: {} paid, {} failed, {} returned{}",
                r.rows,
                r.paid,
                r.failed,
                r.returned,
                if r.reconciled { "; the cycle is reconciled" } else { "" }
            );
        }
        PaymentsCommand::Verify { cycle } => {
            let r = pay::verify(store, &services::authz::Ctx::cli(), *cycle).await?;
            let digest = match r.digest_ok {
                Some(true) => "matches the approval",
                Some(false) => "DOES NOT MATCH the approval",
                None => "not fixed yet (not approved)",
            };
            out!(
                "cycle {}: {} lines; digest {digest}; totals {}",
                r.cycle_id,
                r.lines,
                if r.totals_ok { "ok" } else { "WRONG" }
            );
            for m in &r.mismatches {
                out!("  {m}");
            }
            if r.digest_ok == Some(false) || !r.totals_ok || !r.mismatches.is_empty() {
                return Err(AppError::Refused(format!("payment cycle {} failed verification", r.cycle_id)));
            }
            out!("ok: every regular and one-off amount recomputes from the frozen facts");
        }
    }
    Ok(())
}

async fn cli_user(store: &store::Store, cmd: &UserCommand) -> Result<(), AppError> {
    use services::users;
    let ctx = services::authz::Ctx::cli();
    let policy = services::authz::Policy::load(store).await?;
    match cmd {
        UserCommand::Add { username, full_name, role, agency, communes, password_stdin } => {
            let password = if *password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| AppError::io("reading the password from standard input", e))?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let req = users::CreateUser {
                username: username.clone(),
                full_name: full_name.clone(),
                role: role.clone(),
                agency: agency.clone(),
                communes: communes.clone(),
                password,
            };
            let created = users::create(store, &policy, &ctx, &req).await.map_err(cli_field_error)?;
            out!("created user {} ({}, {})", created.user.username, created.user.full_name, created.user.role);
            if let Some(t) = created.temporary_password {
                out!("temporary password (change at first login): {t}");
            }
        }
        UserCommand::List { role, all } => {
            let f = store::UserFilter { q: None, role: role.clone(), include_disabled: *all };
            let mut page = store::Page::new(Some(1), Some(store::Page::MAX_PER_PAGE));
            out!("{:<20} {:<30} {:<20} {:<16} status", "username", "full name", "role", "area");
            loop {
                let p = store.list_users(&f, page).await?;
                for u in &p.items {
                    let area = match store.user_communes(u.id).await? {
                        c if !c.is_empty() => c.join(","),
                        _ => u.agency_code.clone().unwrap_or_else(|| "-".into()),
                    };
                    let status = if u.disabled { "disabled" } else { "active" };
                    out!("{:<20} {:<30} {:<20} {:<16} {status}", u.username, u.full_name, u.role_code, area);
                }
                if page.page * page.per_page >= p.total {
                    break;
                }
                page.page += 1;
            }
        }
        UserCommand::Disable { username } | UserCommand::Enable { username } => {
            let disable = matches!(cmd, UserCommand::Disable { .. });
            let u = store
                .user_by_username(username)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("user '{username}'")))?;
            users::set_disabled(store, &ctx, u.id, disable).await?;
            out!("user {username} {}", if disable { "disabled" } else { "enabled" });
        }
        UserCommand::ResetPassword { username } => {
            let u = store
                .user_by_username(username)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("user '{username}'")))?;
            let t = users::reset_password(store, &ctx, u.id).await?;
            out!("temporary password for {username} (change at next login): {t}");
        }
    }
    Ok(())
}

/// Field errors read as `username: …` on the command line.
fn cli_field_error(e: AppError) -> AppError {
    match e {
        AppError::Field { field, en, .. } => AppError::Invalid(format!("--{}: {en}", field.replace('_', "-"))),
        other => other,
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr).await.map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the address is already in use. Stop the other program or choose another port with --port".to_string()
            }
            std::io::ErrorKind::PermissionDenied => {
                "permission denied. Ports below 1024 need privileges; choose a port above 1024 with --port".to_string()
            }
            std::io::ErrorKind::AddrNotAvailable => "this machine has no such address; check --bind".to_string(),
            _ => e.to_string(),
        };
        AppError::Listen { addr: addr.to_string(), reason }
    })
}

async fn serve(
    listener: TcpListener,
    store: store::Store,
    (g, packs, pack_source): (domain::Gazetteer, rules::Packs, services::entitlements::PackSource),
    url: &store::DatabaseUrl,
    c: &config::Config,
) -> Result<(), AppError> {
    let sms = services::lookup::SmsSender::parse(&c.portal_sms.value)
        .map_err(|r| AppError::Refused(format!("portal.sms: {r}")))?;
    let oidc = match &c.portal_oidc.value {
        Some(s) => Some(Arc::new(services::oidc::Provider::load(s.clone()).map_err(AppError::Refused)?)),
        None => None,
    };
    let addr = listener.local_addr().map_err(|e| AppError::io("reading the listening address", e))?;
    let province_code = setup::installation_province(&store).await?;
    let state = AppState {
        store: store.clone(),
        gazetteer: Arc::new(g),
        metrics: Arc::new(http::metrics::Metrics::new()),
        started: Instant::now(),
        province_code,
        policy: Arc::new(services::authz::Policy::load(&store).await?),
        throttle: Arc::new(services::auth::Throttle::default()),
        cookie_secure: c.cookie_secure.value,
        trust_forwarded_for: c.trust_forwarded_for.value,
        reports: Arc::new(services::ReportCache::default()),
        computed: Arc::new(services::plans::ComputedCache::default()),
        import_jobs: Arc::new(services::jobs::ImportJobs::default()),
        packs: Arc::new(packs),
        pack_source: Arc::new(pack_source),
        metrics_token: c.metrics_token.value.clone().map(Arc::from),
        import_duplicate_share: c.import_duplicate_share.value,
        sms: Arc::new(sms),
        oidc,
    };
    services::calendar::refresh(&store).await?;
    // each minute: another process may have recorded a calendar year; the portal's spent rows go
    let watched = store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = services::calendar::refresh(&watched).await {
                tracing::warn!(error = %e, "calendar refresh");
            }
            if let Err(e) = watched.prune_portal().await {
                tracing::warn!(error = %e, "pruning the portal's attempts and sessions");
            }
        }
    });
    let app = http::router(state);
    tracing::info!(%addr, database = %url, "serving");
    // The first stdout line is the URL (tests and scripts read it).
    out!("ansinh is serving http://{addr}/ (database {url}); press Ctrl-C to stop");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| AppError::io("serving HTTP", e))?;
    tracing::info!("shutting down");
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

mod services_backup {
    //! `ansinh backup`: SQLite online copy or pg_dump.
    use super::*;

    pub async fn run(url: &store::DatabaseUrl, c: &Config, output: Option<PathBuf>) -> Result<PathBuf, AppError> {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        match url {
            store::DatabaseUrl::Sqlite { path } => {
                if !path.exists() {
                    return Err(AppError::Invalid(format!(
                        "database file {} does not exist; nothing to back up",
                        path.display()
                    )));
                }
                let target = output.unwrap_or_else(|| PathBuf::from(format!("ansinh-backup-{stamp}.db")));
                let store = store::Store::connect(url, &c.store_options()).await?;
                let res = store.backup_sqlite_to(&target).await;
                store.close().await;
                res?;
                Ok(target)
            }
            store::DatabaseUrl::Postgres { .. } => {
                let target = output.unwrap_or_else(|| PathBuf::from(format!("ansinh-backup-{stamp}.dump")));
                if target.exists() {
                    return Err(store::StoreError::BackupTargetExists { path: target }.into());
                }
                // Check reachability first for a clear error.
                store::Store::connect(url, &c.store_options()).await?.close().await;
                let (url_no_pw, password) = split_password(&url.expose());
                let mut cmd = tokio::process::Command::new("pg_dump");
                cmd.arg("--format=custom").arg("--file").arg(&target).arg("--dbname").arg(&url_no_pw);
                if let Some(pw) = password {
                    cmd.env("PGPASSWORD", pw);
                }
                let out = cmd.output().await.map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        AppError::Refused("pg_dump is not installed; install the PostgreSQL client tools (Debian: apt-get install postgresql-client)".into())
                    } else {
                        AppError::io("running pg_dump", e)
                    }
                })?;
                if !out.status.success() {
                    let _ = std::fs::remove_file(&target);
                    let msg = String::from_utf8_lossy(&out.stderr);
                    let first = msg.lines().next().unwrap_or("unknown error");
                    return Err(AppError::Refused(format!("pg_dump failed: {}", store::redact(first))));
                }
                Ok(target)
            }
        }
    }

    /// Moves the password out of a URL (so it is not visible in the process list) and
    /// percent-decodes it for PGPASSWORD.
    /// Handles both `user:password@host` and a `password=` query parameter.
    pub fn split_password(url: &str) -> (String, Option<String>) {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let mut password = None;
        let mut base = base.to_string();
        if let Some((scheme, rest)) = base.split_once("://") {
            if let Some((userinfo, host)) = rest.rsplit_once('@') {
                if let Some((user, pw)) = userinfo.split_once(':') {
                    password = Some(percent_decode(pw));
                    base = format!("{scheme}://{user}@{host}");
                }
            }
        }
        let mut kept = Vec::new();
        for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
            match kv.strip_prefix("password=") {
                Some(pw) => password = Some(percent_decode(pw)),
                None => kept.push(kv),
            }
        }
        if !kept.is_empty() {
            base = format!("{base}?{}", kept.join("&"));
        }
        (base, password)
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let hex = |c: u8| (c as char).to_digit(16);
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn splits_password() {
            assert_eq!(
                super::split_password("postgres://u:p%40ss@h:5432/db"),
                ("postgres://u@h:5432/db".to_string(), Some("p@ss".to_string()))
            );
            assert_eq!(super::split_password("postgres://u@h/db"), ("postgres://u@h/db".to_string(), None));
            assert_eq!(
                super::split_password("postgres://u@h/db?sslmode=disable&password=x%2Fy"),
                ("postgres://u@h/db?sslmode=disable".to_string(), Some("x/y".to_string()))
            );
            // multi-byte characters after '%' do not panic
            assert_eq!(super::split_password("postgres://u:%éé@h/db").1, Some("%éé".to_string()));
        }
    }
}
