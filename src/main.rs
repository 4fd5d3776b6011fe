//! rttpd command line: `--role=NAME` (internal) starts a child role;
//! anything else is the user's command line and starts pmaster.

use rttpd::config::cli::{self, Cli};
use rttpd::role;

#[global_allocator]
static GLOBAL: rttpd::sys::CountingAlloc = rttpd::sys::CountingAlloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(r) = args.first().and_then(|a| a.strip_prefix("--role=")) {
        role::child_main(r);
    }
    let read = |p: &str| std::fs::read_to_string(p);
    match cli::parse_args(&args, &read) {
        Ok(Cli::Version) => println!("rttpd {}", env!("CARGO_PKG_VERSION")),
        Ok(Cli::Help) => println!("{}\n\n{HELP}", cli::USAGE),
        Ok(Cli::Run {
            config,
            check_only: true,
            config_file,
            ..
        }) => {
            // Syntax errors failed above; what this machine lacks is only
            // warned about, so a firmware build host can check a device's
            // config (its accounts and docroots exist on the device).
            for p in role::pmaster::check(&config) {
                eprintln!("{p}");
            }
            println!(
                "{}: configuration ok ({} vhost(s))",
                config_file.as_deref().unwrap_or("command line"),
                config.vhosts.len()
            );
        }
        Ok(Cli::Run {
            config,
            config_file,
            detach,
            ..
        }) => {
            role::init_logger(config.log_level);
            std::process::exit(role::pmaster::run(config, config_file, detach));
        }
        Err(e) => {
            // Config errors are exactly `file:line: problem` (editors and
            // procd scripts parse that); the others name the option.
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

const HELP: &str = "\
  -c FILE           read the configuration FILE (see README)
  -t                check the configuration and exit (file:line: problem)
  -p [ADDR:]PORT    listen here (repeatable; IPv6 as [::]:8080; default 0.0.0.0:8080)
  -h DIR            serve DIR (default: the current directory)
  -u USER[:GROUP]   account of the unprivileged processes when started as root (default nobody)
  -f                stay in the foreground (the default)
  -d                detach and run in the background
  -v                more log output (repeatable)
  -V                print the version
  --help            this text";
