//! Integration tests for lifeline-inventory, as one binary (one link step).

mod collect;
mod diff;
mod parsers;
mod robustness;
mod util;
mod versions;
