//! The outside programs the tests start (Mosquitto, HAProxy, RabbitMQ,
//! Chromium and ChromeDriver): a test that needs one that is missing fails at
//! once, naming the program and the Debian package that brings it (the
//! README's test command, `./scripts/test.sh`, installs them all), instead of
//! failing later with a bare "No such file or directory" or passing without
//! having tested anything.

use std::path::{Path, PathBuf};

/// The Mosquitto broker (Debian's `mosquitto`).
pub const MOSQUITTO: Program = Program::new("mosquitto", "mosquitto");
/// Mosquitto's password tool, from the same package.
pub const MOSQUITTO_PASSWD: Program = Program::new("mosquitto_passwd", "mosquitto");
/// Mosquitto's dynamic security plugin, from the same package.
pub const MOSQUITTO_DYNSEC: Program = Program::new(
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "mosquitto",
);
/// The load balancer of the tests of several instances.
pub const HAPROXY: Program = Program::new("haproxy", "haproxy");
/// ChromeDriver, which starts the headless Chromium.
pub const CHROMEDRIVER: Program = Program::new("chromedriver", "chromium-driver");
/// The browser ChromeDriver is told to start.
pub const CHROMIUM: Program = Program::new("/usr/bin/chromium", "chromium");
/// RabbitMQ's server script, where Debian puts it.
pub const RABBITMQ_SERVER: Program =
    Program::new("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server");
/// RabbitMQ's control tool, from the same package.
pub const RABBITMQCTL: Program =
    Program::new("/usr/lib/rabbitmq/bin/rabbitmqctl", "rabbitmq-server");
/// `kill`, which sends signals to the processes the tests start.
pub const KILL: Program = Program::new("kill", "procps");

/// A program (a name looked up in `PATH`, or an absolute path) and the
/// Debian package that installs it.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    name: &'static str,
    package: &'static str,
}

impl Program {
    const fn new(name: &'static str, package: &'static str) -> Program {
        Program { name, package }
    }

    /// The name looked up in `PATH`, or the absolute path.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Where the program is, if it is installed.
    pub fn find(&self) -> Option<PathBuf> {
        let name = Path::new(self.name);
        if name.is_absolute() {
            return name.is_file().then(|| name.to_path_buf());
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    }

    /// Where the program is; panics, naming it and its package, when it is
    /// missing.
    pub fn require(&self) -> PathBuf {
        self.find().unwrap_or_else(|| panic!("{}", self.missing()))
    }

    /// What a test says when the program is missing.
    pub fn missing(&self) -> String {
        format!(
            "this test needs `{}`, which is not installed: install the Debian package `{}` \
             (`apt-get install {}`; ./scripts/test.sh installs every program the tests use)",
            self.name, self.package, self.package
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let missing = Program::new("no-such-program-for-tests", "some-package");
        assert_eq!(missing.find(), None);
        let message = missing.missing();
        assert!(
            message.contains("`no-such-program-for-tests`") && message.contains("`some-package`"),
            "{message}"
        );
        let found = std::panic::catch_unwind(|| missing.require());
        assert!(found.is_err(), "require panics for a missing program");
    }

    #[test]
    fn a_program_on_the_path_is_found() {
        assert!(Program::new("sh", "dash").find().is_some());
    }
}
