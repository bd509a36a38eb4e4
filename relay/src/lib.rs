//! The Lifeline relay: the one place agents and consoles connect to.
//!
//! It authenticates people and machines, tracks which agents are online,
//! pairs a technician's console with an agent for a session and splices
//! their streams, and keeps everything durable in its store.

pub mod agent_conn;
pub mod agent_once;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod console_admin;
pub mod console_conn;
pub mod console_export;
pub mod console_machines;
pub mod console_pages;
pub mod console_session;
pub mod console_tickets;
pub mod datadir;
pub mod hub;
pub mod inventory;
pub mod login;
pub mod notify;
pub mod server;
pub mod session_log;
pub mod splice;
pub mod store;
pub mod totp;
