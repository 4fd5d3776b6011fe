//! The command line (uhttpd / BusyBox httpd letters).
//!
//! Options follow getopt: flags may be grouped (`-tv`), a value may be
//! attached (`-p8080`) or be the next argument (`-p 8080`), `--` ends the
//! options. There are no positional arguments.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::parse::{parse_account, parse_listen};
use super::{Account, Config, VhostConfig};
use crate::limits;

// Built once per start (and per SIGHUP): boxing `config` would buy nothing.
#[allow(clippy::large_enum_variant)]
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

/// Listening address without `-c` and without `-p` (uhttpd insists on -p;
/// an unprivileged port lets `rttpd -h DIR` work for a normal user).
pub const DEFAULT_CLI_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);

/// Name of the one vhost built from `-h`.
pub const CLI_VHOST: &str = "default";

/// Appended to errors about the shape of the command line.
const HINT: &str = "; try 'rttpd --help'";

/// Parses argv (without argv[0]). Errors are one line for stderr.
/// `read_file` is how `-c FILE` is read (injected so this stays pure).
///
/// - `-c FILE`: the config file; cannot be combined with `-p`, `-h`, `-u`.
/// - Without `-c`: one vhost named `default`, rooted at `-h DIR` (default
///   `.`, made absolute against the current directory), listening on every
///   `-p` (default `0.0.0.0:8080`), run as `-u USER[:GROUP]` (default
///   `nobody`), other settings at their defaults.
/// - `-t` checks and exits; `-d` detaches, `-f` stays in the foreground (the
///   default; the last of the two wins).
/// - `-v` asks for debug logs, `-vv` for trace: the level becomes at least
///   that, whatever the config file says.
/// - `-V` and `--help` win over everything after them.
pub fn parse_args(
    args: &[String],
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Cli, String> {
    let mut opts = Opts::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--help" {
            return Ok(Cli::Help);
        }
        if arg == "--" {
            if let Some(extra) = rest.next() {
                return Err(format!("unexpected argument '{extra}'{HINT}"));
            }
            break;
        }
        let flags = match arg.strip_prefix('-') {
            Some(f) if !f.is_empty() && !f.starts_with('-') => f,
            Some(f) if f.starts_with('-') => return Err(format!("unknown option '{arg}'{HINT}")),
            _ => return Err(format!("unexpected argument '{arg}'{HINT}")),
        };
        for (at, flag) in flags.char_indices() {
            match flag {
                't' => opts.check_only = true,
                'f' => opts.detach = false,
                'd' => opts.detach = true,
                'v' => opts.verbose += 1,
                'V' => return Ok(Cli::Version),
                'c' | 'p' | 'h' | 'u' => {
                    let attached = &flags[at + flag.len_utf8()..];
                    let value = if !attached.is_empty() {
                        attached
                    } else if let Some(next) = rest.next() {
                        next.as_str()
                    } else {
                        return Err(format!("option '-{flag}' needs a value"));
                    };
                    opts.value(flag, value)?;
                    break;
                }
                _ => return Err(format!("unknown option '-{flag}'{HINT}")),
            }
        }
    }
    opts.finish(read_file)
}

#[derive(Default)]
struct Opts {
    config_file: Option<String>,
    check_only: bool,
    detach: bool,
    verbose: usize,
    listen: Vec<SocketAddr>,
    home: Option<String>,
    account: Option<(Account, Option<Account>)>,
}

impl Opts {
    fn value(&mut self, flag: char, value: &str) -> Result<(), String> {
        let twice = || format!("option '-{flag}' is given twice");
        match flag {
            'c' => {
                if self.config_file.replace(value.to_string()).is_some() {
                    return Err(twice());
                }
            }
            'h' => {
                if self.home.replace(value.to_string()).is_some() {
                    return Err(twice());
                }
            }
            'u' => {
                let (user, group) = match value.split_once(':') {
                    Some((u, g)) => (u, Some(g)),
                    None => (value, None),
                };
                let bad = || format!("-u: '{value}' is not USER[:GROUP] (names or numbers)");
                let user = parse_account(user).ok_or_else(bad)?;
                let group = match group {
                    Some(g) => Some(parse_account(g).ok_or_else(bad)?),
                    None => None,
                };
                if self.account.replace((user, group)).is_some() {
                    return Err(twice());
                }
            }
            _ => {
                let addr = parse_listen(value).ok_or_else(|| {
                    format!("-p: '{value}' is not [ADDR:]PORT (IPv6 as [::]:PORT; PORT 1 to 65535)")
                })?;
                if self.listen.contains(&addr) {
                    return Err(format!("-p: {addr} is given twice"));
                }
                if self.listen.len() >= limits::MAX_LISTEN {
                    return Err(format!("-p: at most {} addresses", limits::MAX_LISTEN));
                }
                self.listen.push(addr);
            }
        }
        Ok(())
    }

    fn finish(self, read_file: &dyn Fn(&str) -> std::io::Result<String>) -> Result<Cli, String> {
        let mut config = match &self.config_file {
            Some(file) => {
                if !self.listen.is_empty() || self.home.is_some() || self.account.is_some() {
                    return Err("-c cannot be combined with -p/-h/-u".into());
                }
                let text = read_file(file).map_err(|e| format!("{file}: {e}"))?;
                super::parse(&text, file).map_err(|e| e.to_string())?
            }
            None => self.command_line_config()?,
        };
        if self.verbose > 0 {
            let wanted = if self.verbose == 1 {
                log::LevelFilter::Debug
            } else {
                log::LevelFilter::Trace
            };
            config.log_level = config.log_level.max(wanted);
        }
        Ok(Cli::Run {
            config_file: self.config_file,
            config,
            check_only: self.check_only,
            detach: self.detach,
        })
    }

    fn command_line_config(&self) -> Result<Config, String> {
        let mut config = Config::defaults("command line");
        let home = self.home.as_deref().unwrap_or(".");
        if home.is_empty() {
            return Err("-h: the directory name is empty".into());
        }
        let root = absolute(Path::new(home))?;
        if root.as_os_str().len() > limits::MAX_PATH_BYTES {
            return Err(format!(
                "-h: '{}' is longer than {} bytes",
                root.display(),
                limits::MAX_PATH_BYTES
            ));
        }
        let mut vhost = VhostConfig::new(CLI_VHOST, 0, root);
        vhost.default = true;
        config.vhosts.push(vhost);
        config.listen = if self.listen.is_empty() {
            vec![DEFAULT_CLI_LISTEN]
        } else {
            self.listen.clone()
        };
        if let Some((user, group)) = &self.account {
            config.user = user.clone();
            config.group = group.clone();
        }
        Ok(config)
    }
}

/// `dir` joined onto the current directory when relative, without `.` parts
/// (`..` stays: the vhost worker resolves the root).
fn absolute(dir: &Path) -> Result<PathBuf, String> {
    let joined = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("-h: cannot get the current directory: {e}"))?;
        cwd.join(dir)
    };
    Ok(joined.components().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogTarget;
    use std::io;

    const GOOD: &str = "listen = 81\nlog_level = warn\n[vhost a.org]\nroot = /srv/a\n";
    const BAD: &str = "listen = 81\n\n[vhost a.org]\nroot = srv/a\n";

    fn reader(path: &str) -> io::Result<String> {
        match path {
            "/etc/good.conf" => Ok(GOOD.into()),
            "/etc/bad.conf" => Ok(BAD.into()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "No such file")),
        }
    }

    fn no_reader(path: &str) -> io::Result<String> {
        panic!("read_file({path}) called without -c")
    }

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn run(line: &str) -> Result<Cli, String> {
        parse_args(&args(line), &reader)
    }

    /// (config_file, config, check_only, detach) of a `Cli::Run`.
    fn ok_run(line: &str) -> (Option<String>, Config, bool, bool) {
        match parse_args(&args(line), &no_reader_unless_c(line)) {
            Ok(Cli::Run {
                config_file,
                config,
                check_only,
                detach,
            }) => (config_file, config, check_only, detach),
            other => panic!("{line:?}: expected Run, got {other:?}"),
        }
    }

    fn no_reader_unless_c(line: &str) -> fn(&str) -> io::Result<String> {
        if line.contains("-c") {
            reader
        } else {
            no_reader
        }
    }

    fn err(line: &str) -> String {
        match run(line) {
            Err(e) => e,
            Ok(other) => panic!("{line:?}: expected an error, got {other:?}"),
        }
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn port_and_docroot() {
        let (file, c, check, detach) = ok_run("-p 8080 -h /tmp");
        assert_eq!((file, check, detach), (None, false, false));
        assert_eq!(c.file, "command line");
        assert_eq!(c.listen, addrs(&["0.0.0.0:8080"]));
        assert_eq!(c.user, Account::Name("nobody".into()));
        assert_eq!(c.log_level, log::LevelFilter::Info);
        let mut want = VhostConfig::new("default", 0, "/tmp".into());
        want.default = true;
        assert_eq!(c.vhosts, vec![want]);
        assert_eq!(c.access_log, LogTarget::Stderr);
    }

    #[test]
    fn listen_forms() {
        for (line, want) in [
            ("-p [::1]:80 -h /", vec!["[::1]:80"]),
            ("-p8080 -h/", vec!["0.0.0.0:8080"]),
            (
                "-p 127.0.0.1:81 -p [::]:81 -h /",
                vec!["127.0.0.1:81", "[::]:81"],
            ),
            ("-h /", vec!["0.0.0.0:8080"]),
        ] {
            assert_eq!(ok_run(line).1.listen, addrs(&want), "{line}");
        }
    }

    #[test]
    fn accounts() {
        let c = ok_run("-u www:www -h /").1;
        assert_eq!(c.user, Account::Name("www".into()));
        assert_eq!(c.group, Some(Account::Name("www".into())));
        assert_eq!(c.vhosts[0].user, None, "the vhost inherits the global user");
        let c = ok_run("-u 1000 -h /").1;
        assert_eq!((c.user, c.group), (Account::Id(1000), None));
        let c = ok_run("-u0:_g -h /").1;
        assert_eq!(
            (c.user, c.group),
            (Account::Id(0), Some(Account::Name("_g".into())))
        );
    }

    #[test]
    fn relative_docroot_becomes_absolute() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(ok_run("-h ./www/.").1.vhosts[0].root, cwd.join("www"));
        assert_eq!(ok_run("-p 1").1.vhosts[0].root, cwd);
    }

    #[test]
    fn flags() {
        let (_, c, check, detach) = ok_run("-t -d -h /");
        assert!(check && detach);
        assert_eq!(c.log_level, log::LevelFilter::Info);
        let (_, c, check, detach) = ok_run("-dtf -v -h /");
        assert!(check && !detach);
        assert_eq!(c.log_level, log::LevelFilter::Debug);
        assert_eq!(ok_run("-vv -h /").1.log_level, log::LevelFilter::Trace);
        assert_eq!(ok_run("-v -v -v -h /").1.log_level, log::LevelFilter::Trace);
        assert_eq!(ok_run("-- ").1.vhosts.len(), 1);
        assert!(matches!(run("-V"), Ok(Cli::Version)));
        assert!(matches!(run("-p 80 -V -x"), Ok(Cli::Version)));
        assert!(matches!(run("-tV"), Ok(Cli::Version)));
        assert!(matches!(run("--help"), Ok(Cli::Help)));
        assert!(matches!(run("-h / --help"), Ok(Cli::Help)));
    }

    #[test]
    fn config_file() {
        let (file, c, check, _) = ok_run("-t -c /etc/good.conf");
        assert_eq!(file.as_deref(), Some("/etc/good.conf"));
        assert!(check);
        assert_eq!(c.file, "/etc/good.conf");
        assert_eq!(c.listen, addrs(&["0.0.0.0:81"]));
        assert_eq!(c.vhosts[0].root, Path::new("/srv/a"));
        assert_eq!(c.log_level, log::LevelFilter::Warn);
        assert_eq!(
            ok_run("-c/etc/good.conf -v").1.log_level,
            log::LevelFilter::Debug
        );
        assert_eq!(
            err("-c /etc/bad.conf"),
            "/etc/bad.conf:4: 'root' must be an absolute path"
        );
        assert_eq!(err("-c /nope.conf"), "/nope.conf: No such file");
    }

    #[test]
    fn errors() {
        for (line, want) in [
            ("-x", "unknown option '-x'; try 'rttpd --help'"),
            ("-tq", "unknown option '-q'; try 'rttpd --help'"),
            ("--port 80", "unknown option '--port'; try 'rttpd --help'"),
            ("www", "unexpected argument 'www'; try 'rttpd --help'"),
            ("-", "unexpected argument '-'; try 'rttpd --help'"),
            ("-- -p", "unexpected argument '-p'; try 'rttpd --help'"),
            ("-p", "option '-p' needs a value"),
            ("-h / -c", "option '-c' needs a value"),
            ("-tu", "option '-u' needs a value"),
            (
                "-p 0",
                "-p: '0' is not [ADDR:]PORT (IPv6 as [::]:PORT; PORT 1 to 65535)",
            ),
            (
                "-p ::1:80",
                "-p: '::1:80' is not [ADDR:]PORT (IPv6 as [::]:PORT; PORT 1 to 65535)",
            ),
            ("-p 80 -p 0.0.0.0:80", "-p: 0.0.0.0:80 is given twice"),
            (
                "-p1 -p2 -p3 -p4 -p5 -p6 -p7 -p8 -p9",
                "-p: at most 8 addresses",
            ),
            (
                "-u www:",
                "-u: 'www:' is not USER[:GROUP] (names or numbers)",
            ),
            (
                "-u :www",
                "-u: ':www' is not USER[:GROUP] (names or numbers)",
            ),
            ("-u 1x", "-u: '1x' is not USER[:GROUP] (names or numbers)"),
            ("-u a -u b", "option '-u' is given twice"),
            ("-h /a -h /b", "option '-h' is given twice"),
            (
                "-c /etc/good.conf -c /etc/good.conf",
                "option '-c' is given twice",
            ),
            (
                "-c /etc/good.conf -p 80",
                "-c cannot be combined with -p/-h/-u",
            ),
            (
                "-h /www -c /etc/good.conf",
                "-c cannot be combined with -p/-h/-u",
            ),
            (
                "-u www -c /nope.conf",
                "-c cannot be combined with -p/-h/-u",
            ),
        ] {
            assert_eq!(err(line), want, "{line}");
        }
        let long = format!("-h /{}", "d".repeat(256));
        assert_eq!(
            err(&long),
            format!("-h: '/{}' is longer than 256 bytes", "d".repeat(256))
        );
        assert_eq!(
            parse_args(&["-h".into(), String::new()], &no_reader).unwrap_err(),
            "-h: the directory name is empty"
        );
    }
}
