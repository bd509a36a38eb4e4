//! The Lifeline console: what technicians, admins and auditors run.

pub mod admin_cmd;
pub mod audit_cmd;
pub mod chat_cmd;
pub mod cli;
pub mod client;
pub mod config;
pub mod input_cmd;
pub mod inventory_cmd;
pub mod machine_cmd;
pub mod org_cmd;
pub mod pages;
pub mod ping;
pub mod pins;
pub mod remote_cmd;
pub mod render;
pub mod report;
pub mod session_cmd;
pub mod ticket_cmd;
pub mod viewer;
