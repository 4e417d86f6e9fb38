//! Command-line interface (clap). Help texts explain the Vietnamese domain terms.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str =
    "ansinh (an sinh = social security): the platform with which a Vietnamese province runs its social policy";

const LONG_ABOUT: &str = "\
ansinh (an sinh xã hội = social security) is the platform with which a Vietnamese province \
runs its social policy: one registry keyed by the personal ID number (số định danh cá nhân, \
the 12-digit number on the căn cước card, which serves as the social security number); \
allowances for people with meritorious services to the revolution (người có công với cách \
mạng) and their relatives, and for social-assistance beneficiaries (đối tượng bảo trợ xã hội, \
trợ giúp xã hội); monthly payment cycles; complaints and denunciations (khiếu nại, tố cáo); and \
monitoring of the province's plan (kế hoạch) by the departments (Sở, e.g. Sở Nội vụ = \
Department of Home Affairs) and the communes (xã = rural commune, phường = urban ward, \
đặc khu = special zone; since 1 July 2025 the only level below the province).

Start with `ansinh demo`: it creates a demo database for Đồng Nai province and serves it.";

#[derive(Debug, Parser)]
#[command(name = "ansinh", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file (TOML). Default: ./ansinh.toml when it exists. Env: ANSINH_CONFIG
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database: sqlite://PATH (embedded, default sqlite://./ansinh.db) or
    /// postgres://USER:PASSWORD@HOST:PORT/DB. Env: ANSINH_DATABASE_URL
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format: human or json. Env: ANSINH_LOG_FORMAT
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log level or filter (error, warn, info, debug, trace). Env: ANSINH_LOG_LEVEL
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080). Env: ANSINH_BIND
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Port, overriding the port of --bind; 0 picks a free one. Env: ANSINH_PORT
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Policy packs from this directory instead of the built-in ones (the server refuses to
    /// start if they do not pass `ansinh rules check`).
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (applies pending database migrations first).
    Serve(ServeArgs),
    /// Create the demo database for Đồng Nai province (tỉnh Đồng Nai: 95 communes —
    /// xã and phường — since the 2025 merger with Bình Phước) if absent, then serve it.
    /// Default database: sqlite://./ansinh-demo.db.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Only create the demo database, then exit.
        #[arg(long)]
        no_serve: bool,
        /// Number of synthetic persons in the registry (for benchmarks: 1000000).
        #[arg(long, default_value_t = 20_000)]
        persons: usize,
        /// Seed of the synthetic data (same seed, same registry).
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Without last month's payment cycle (for benchmarks of a first cycle).
        #[arg(long)]
        no_payments: bool,
    },
    /// Apply the embedded database migrations and load reference data (administrative
    /// units: 34 provinces — tỉnh, thành phố — and 3,321 communes — xã, phường, đặc khu), then exit.
    Migrate,
    /// Make a consistent copy of the live database. SQLite: an online copy (VACUUM INTO);
    /// PostgreSQL: pg_dump custom format (needs the PostgreSQL client tools).
    Backup {
        /// Target file (must not exist). Default: ansinh-backup-YYYYMMDD-HHMMSS.db (or .dump).
        #[arg(value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// User accounts (roles: admin, provincial_officer = cán bộ Sở, commune_officer = cán bộ
    /// xã, agency_reporter, leader = lãnh đạo, inspector = thanh tra).
    #[command(subcommand)]
    User(UserCommand),
    /// The tamper-evident audit trail (nhật ký).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import into the registry (sổ đối tượng) from the CSV or XLSX template.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Policy packs (policies/): the amounts, coefficients and standard levels with citations.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Compute or explain entitlements from a facts file (no database needed).
    #[command(subcommand)]
    Entitlements(EntitlementsCommand),
    /// Budget simulation over the registry: the cost of a policy change (a standard level or
    /// an Appendix I amount from a month on) against the baseline, by month, commune and item.
    Simulate {
        /// NAME=VALUE@yyyy-mm, e.g. muc_chuan=3000000@2027-01 or item:6.1p=1500000@2027-01
        /// (parameters: muc_chuan, muc_chuan_tro_giup, luong_co_so, tro_cap_huu_tri_xa_hoi).
        /// Repeatable; none = the baseline alone.
        #[arg(long = "set", value_name = "CHANGE")]
        set: Vec<String>,
        /// An added eligibility group: AGE+[:poor]=COEFFICIENT@yyyy-mm, e.g. 75+=1.0@2027-01
        /// (everyone from 75 receives 1.0 × the social-assistance standard level, or the
        /// higher of that and what they already receive).
        #[arg(long, value_name = "GROUP")]
        add_group: Option<String>,
        #[arg(long, value_name = "MONTH")]
        from: String,
        #[arg(long, value_name = "MONTH")]
        to: String,
        /// Only this commune (5-digit code).
        #[arg(long)]
        commune: Option<String>,
        /// Also write every total (dimension, key, baseline, scenario, difference) as CSV.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Monthly payment cycles (chi trả): generate from the registry, check (second officer),
    /// approve (head of department), export lists and bank files, reconcile results, close.
    /// Steps are taken as a named user account (--as), with that account's rights: the
    /// maker cannot check or approve their own cycle.
    #[command(subcommand)]
    Payments(PaymentsCommand),
    /// Integrity checks (chống trục lợi): run them over the registry and the payments, list
    /// the cases of the review queue.
    #[command(subcommand)]
    Integrity(IntegrityCommand),
    /// Plan monitoring (theo dõi thực hiện kế hoạch): import a plan from the template, write
    /// the template, show the tasks' status, export the compiled implementation report.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// The working-day calendar: show a year's days off and make-up working days, write a
    /// year as CSV to edit, record a year's announced schedule (it replaces the compiled-in
    /// rows of that year; every deadline computed afterwards uses it).
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Find the records that are one person (Vietnamese-aware record linkage).
    /// From a CSV file (columns record_id, full_name, birth_date, sex, personal_id, commune;
    /// no database needed), or over the registry (--registry). Writes one line per record
    /// with its cluster; --pairs writes the scored pairs; --report the rows not compared.
    Dedup {
        #[arg(long, value_name = "FILE.csv", required_unless_present = "registry")]
        input: Option<PathBuf>,
        /// The registry's persons instead of a file (reads the database).
        #[arg(long, conflicts_with = "input")]
        registry: bool,
        #[arg(long, value_name = "FILE.csv")]
        output: PathBuf,
        #[arg(long, value_name = "FILE.csv")]
        pairs: Option<PathBuf>,
        #[arg(long, value_name = "FILE.csv")]
        report: Option<PathBuf>,
        /// Write the learnt model (m and u per comparison level, the prior, the EM sessions)
        /// and the blocking statistics as JSON.
        #[arg(long, value_name = "FILE.json")]
        model: Option<PathBuf>,
        /// Match probability from which a pair is a duplicate.
        #[arg(long, default_value_t = 0.95)]
        duplicate_at: f64,
        /// Match probability from which a pair needs review.
        #[arg(long, default_value_t = 0.5)]
        review_at: f64,
    },
    /// Print version, schema and reference-data versions.
    Version,
}

#[derive(Debug, Subcommand)]
pub enum IntegrityCommand {
    /// Run every check and open cases for new findings (as the operator, or --as a user
    /// with the right to run them).
    Run {
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: Option<String>,
    },
    /// List cases of the review queue (as --as USERNAME, within that user's area).
    Cases {
        /// paid_twice, duplicate, deceased_paid, implausible_age, shared_account,
        /// id_inconsistent, incompatible_benefits, age_lapsed, uncollected
        #[arg(long)]
        check: Option<String>,
        /// open, confirmed, false_positive
        #[arg(long)]
        status: Option<String>,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Import a plan from a TOML or XLSX file in the template's format (docs/plans.md).
    /// Every error names its place and field; nothing is written unless all is valid.
    Import {
        file: PathBuf,
        /// Check only.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the XLSX template (the seed plan, Kế hoạch 230/KH-UBND, as the example).
    Template {
        #[arg(long, value_name = "FILE.xlsx")]
        output: PathBuf,
    },
    /// The plans, or one plan's tasks with their status and the overdue share per lead agency.
    Status {
        #[arg(long, value_name = "ID")]
        plan: Option<i64>,
    },
    /// Export the compiled implementation report (the dashboard's figures) as XLSX.
    Export {
        #[arg(long, value_name = "ID")]
        plan: i64,
        #[arg(long, value_name = "FILE.xlsx")]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// A year's days off and make-up working days, with where they come from.
    Show { year: i32 },
    /// A year as CSV (date,kind,name,source) — the rows in force, to edit and record.
    Template {
        year: i32,
        #[arg(long, value_name = "FILE.csv")]
        output: PathBuf,
    },
    /// Record a year from a CSV file (one year per file; all rows checked, nothing written
    /// unless all are valid).
    Import {
        file: PathBuf,
        /// Check only.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PaymentsCommand {
    /// List the cycles.
    List,
    /// Create the month's cycle if needed and compute its lines (a draft; regenerating a
    /// draft replaces its lines).
    Generate {
        /// yyyy-mm or mm/yyyy
        #[arg(long, value_name = "MONTH")]
        month: String,
        /// An ad-hoc cycle (one-offs and arrears only) instead of the monthly one.
        #[arg(long)]
        adhoc: bool,
        /// Regenerate this draft cycle instead of the month's monthly cycle.
        #[arg(long, value_name = "ID")]
        cycle: Option<i64>,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Check a generated draft (a second officer, not its maker).
    Check {
        cycle: i64,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
    /// Approve a checked cycle (head of department; not its maker or checker).
    Approve {
        cycle: i64,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
    /// Write the files of an approved cycle into DIR (bank transfer CSV, one pay-point list
    /// XLSX per commune, the summary CSV) and mark it exported.
    Export {
        cycle: i64,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
    /// Record the post office's or bank's results file (CSV: reference,result,amount[,note]):
    /// all rows or none.
    Reconcile {
        cycle: i64,
        file: PathBuf,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
    /// Close a reconciled cycle.
    Close {
        cycle: i64,
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
    },
    /// Check a cycle: the digest fixed at approval, the totals, and every regular and
    /// one-off amount recomputed from the line's frozen facts and the cycle's pack text.
    Verify { cycle: i64 },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load and check the packs: types, dates, overlapping rows, citations, parameters and
    /// items the rules need; list the values still to confirm.
    Check {
        /// Read the packs from this directory instead of the built-in ones.
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EntitlementsCommand {
    /// Compute every person's monthly and one-off entitlements for a range of months
    /// (docs/entitlements.md describes the facts file). With --paid, writes the arrears
    /// (truy lĩnh) and overpayments (truy thu) instead.
    Compute {
        /// Facts, one person per line (JSON Lines).
        #[arg(long, value_name = "FILE", required_unless_present = "registry")]
        facts: Option<PathBuf>,
        /// Read the facts from the registry database instead (--database-url).
        #[arg(long, conflicts_with = "facts")]
        registry: bool,
        /// With --registry: only this commune (5-digit code).
        #[arg(long, requires = "registry")]
        commune: Option<String>,
        /// With --registry: only this person (personal ID).
        #[arg(long, requires = "registry")]
        person: Option<String>,
        /// First month (yyyy-mm or mm/yyyy).
        #[arg(long, value_name = "MONTH")]
        from: String,
        /// Last month (yyyy-mm or mm/yyyy).
        #[arg(long, value_name = "MONTH")]
        to: String,
        /// What was paid: CSV person,month,item,amount.
        #[arg(long, value_name = "FILE")]
        paid: Option<PathBuf>,
        /// Where to write the CSV (not written at all if anything fails).
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Explain one person's month: the facts in force, each rule, amount and citation.
    Explain {
        #[arg(long, value_name = "FILE")]
        facts: PathBuf,
        #[arg(long, value_name = "ID")]
        person: String,
        #[arg(long, value_name = "MONTH")]
        month: String,
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. Without --password-stdin a temporary password is generated,
    /// printed once, and must be changed at the first login.
    Add {
        #[arg(long)]
        username: String,
        /// Full name, with diacritics (e.g. "Nguyễn Thị Lan").
        #[arg(long)]
        full_name: String,
        #[arg(long)]
        role: String,
        /// Agency code (e.g. SO_NOI_VU = Sở Nội vụ), for provincial officers and reporters.
        #[arg(long)]
        agency: Option<String>,
        /// Commune code (5 digits), repeatable, for commune officers.
        #[arg(long = "commune", value_name = "CODE")]
        communes: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        #[arg(long)]
        role: Option<String>,
        /// Include disabled accounts.
        #[arg(long)]
        all: bool,
    },
    /// Disable an account (its sessions end; its API tokens stop working).
    Disable { username: String },
    /// Re-enable a disabled account.
    Enable { username: String },
    /// Reset a password to a generated temporary one (printed once).
    ResetPassword { username: String },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import persons (người có công, thân nhân, đối tượng bảo trợ xã hội). Every row is
    /// validated; nothing is written unless the whole file is valid (or --valid-only).
    Persons {
        /// A .csv (UTF-8) or .xlsx file with the template's columns.
        file: std::path::PathBuf,
        /// Validate and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the valid rows and report the rejected ones.
        #[arg(long, conflicts_with = "dry_run")]
        valid_only: bool,
        /// Write the error report here (.csv or .xlsx).
        #[arg(long, value_name = "FILE")]
        report: Option<std::path::PathBuf>,
        /// Import even when more than half of the rows look like persons already registered
        /// (otherwise the file is stopped for review).
        #[arg(long)]
        allow_duplicates: bool,
    },
    /// Print the CSV template (Vietnamese column headers, one example row).
    Template,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit 1 naming the first modified, deleted or reordered entry.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a fully commented example configuration file.
    Example,
    /// Validate the configuration from all sources and print the effective values
    /// (secrets shown as ***), each with where it came from.
    Check,
}
