//! The entitlement engine.
//!
//! Policy packs (`policies/` in the repository) hold every amount, coefficient and standard
//! level as dated rows with their legal citation; [`pack::Packs::load`] parses and checks
//! them. [`engine::Engine`] turns a person's effective-dated facts into entitlement lines
//! for a range of months — person, month, benefit item, amount, citation — and can explain
//! each one. [`arrears`] compares what is due with what was paid.
//!
//! Pure and deterministic: the caller hands in the pack files as text and the facts as
//! values; nothing here reads files, the clock or the network.

pub mod arrears;
pub mod engine;
pub mod facts;
pub mod pack;

pub use engine::{Engine, Line, LineKind, RuleError};
pub use facts::{AssistanceFact, MeritFact, PersonFacts};
pub use pack::{PackError, Packs};
