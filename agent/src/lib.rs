//! The Lifeline agent: runs on every user machine.
//!
//! It enrolls once with a token, then keeps a connection to the relay:
//! heartbeats for presence, answers session offers, and serves the streams
//! of accepted sessions.

pub mod backoff;
pub mod capture;
pub mod chat;
pub mod cli;
pub mod config;
pub mod enroll;
pub mod facts;
pub mod help;
pub mod input;
pub mod inventory;
pub mod journal;
pub mod reports;
pub mod runner;
pub mod screen;
pub mod session;
pub mod streams;
pub mod ui;
