//! The line format of DESIGN.md. STUB.

use super::{Config, ConfigError};

/// Parses a whole config file. `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let _ = (text, file);
    todo!()
}
