//! The command line (uhttpd / BusyBox httpd letters). STUB.

use super::Config;

#[derive(Debug)]
pub enum Cli {
    /// Serve (or with `check_only`, check and exit).
    Run {
        /// The config file named by -c, if any (to re-read on SIGHUP).
        config_file: Option<String>,
        config: Config,
        check_only: bool,
        detach: bool,
    },
    Version,
    Help,
}

pub const USAGE: &str = "usage: rttpd [-c FILE] [-t] [-p [ADDR:]PORT]... [-h DIR] [-u USER[:GROUP]] [-f|-d] [-v]... [-V] [--help]";

/// Parses argv (without argv[0]). Errors are one line for stderr.
/// `read_file` is how `-c FILE` is read (injected so this stays pure).
pub fn parse_args(
    args: &[String],
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Cli, String> {
    let _ = (args, read_file);
    todo!()
}
