//! The end-to-end tests that share one process: one subject a module, each
//! a file of `tests/` (the README's Layout names them). One binary builds and
//! links once, where one binary per file would repeat the work thirty times.
//! The tests that measure the whole process (a counting allocator, its RSS)
//! are binaries of their own, listed in the root `Cargo.toml`; `layout.rs`
//! checks that every file of `tests/` is one or the other.
//!
//! One subject: `cargo test --test e2e access::`.

mod access;
mod access_limits;
mod app;
mod broker_limits;
mod connection;
mod credentials;
mod dashboard;
mod dashboard_features;
mod dashboard_history;
mod dashboard_limits;
mod dashboard_rules;
mod failover;
mod faults;
mod flood;
mod floors;
mod fuzz;
mod guard;
mod history;
mod history_postgres;
mod http_streams;
mod http_streams_access;
mod instances;
mod late_joiners;
mod layout;
mod library;
mod limits;
mod login_limits;
mod lost_filters;
mod mqtt5_strings;
mod nul_topic;
mod package;
mod payloads;
mod rabbitmq;
mod recorder;
mod recorder_postgres;
mod requests;
mod revocation;
mod revocation_races;
mod server_subscriptions;
mod streams;
mod subscription_order;
mod trusted_proxy;
