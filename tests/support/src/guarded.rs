//! The example app behind access control: a real Mosquitto, a password file
//! made by the real `mosquitto_passwd`, optionally a Mosquitto ACL file, and
//! the app in-process reading both, all in a temporary folder of the test's.
//! The tests of sign-in, credentials, ACLs and their reloads start from here.

use std::path::{Path, PathBuf};

use example_app::Settings;
use tempfile::TempDir;

use crate::{init_logging, App, Mosquitto, PasswordFile, WebClient};

/// A running app whose users come from a password file (and whose rights, if
/// it was given one, from an ACL), with the broker it is connected to.
/// Dropping it stops the app, then the broker, then removes the files.
pub struct GuardedApp {
    /// The app, reading [`GuardedApp::passwd`] and the ACL.
    pub app: App,
    /// The broker the app is connected to (an outside client may feed it).
    pub broker: Mosquitto,
    /// The password file; a test changes it as an operator would, then
    /// calls [`GuardedApp::reload`].
    pub passwd: PasswordFile,
    /// Where the ACL is, when there is one.
    acl: Option<PathBuf>,
    /// Holds both files; removed last.
    _dir: TempDir,
}

impl GuardedApp {
    /// Starts a broker and the app with `users` (name, password) in its
    /// password file and, when given, `acl` as its Mosquitto ACL; waits until
    /// the app is connected.
    pub async fn start(users: &[(&str, &str)], acl: Option<&str>) -> GuardedApp {
        Self::start_with(users, acl, |_| {}).await
    }

    /// As [`GuardedApp::start`], with the test settings further changed by
    /// `configure` (after the password file and ACL are set in them).
    pub async fn start_with(
        users: &[(&str, &str)],
        acl: Option<&str>,
        configure: impl FnOnce(&mut Settings),
    ) -> GuardedApp {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = PasswordFile::create(dir.path().join("passwd"), users);
        let acl = acl.map(|text| {
            let path = dir.path().join("acl");
            std::fs::write(&path, text).expect("write the ACL");
            path
        });
        let broker = Mosquitto::start();
        let (password_file, acl_file) = (passwd.path().to_path_buf(), acl.clone());
        let app = App::start_with(broker.port, |s| {
            s.password_file = Some(password_file);
            s.acl_file = acl_file;
            configure(s);
        })
        .await;
        GuardedApp {
            app,
            broker,
            passwd,
            acl,
            _dir: dir,
        }
    }

    /// The ACL file, when the app was given one (a test may rewrite it, then
    /// call [`GuardedApp::reload`]).
    pub fn acl_path(&self) -> Option<&Path> {
        self.acl.as_deref()
    }

    /// Re-reads the password file and the ACL, as SIGHUP does for the binary.
    pub fn reload(&self) {
        self.app.reloader().reload().expect("the files reload");
    }

    /// A client of the app with no credentials.
    pub fn web(&self) -> WebClient {
        WebClient::new(self.app.addr())
    }

    /// A client of the app sending `user`'s credentials with Basic auth.
    pub fn user(&self, user: &str, password: &str) -> WebClient {
        self.web().basic(user, password)
    }
}
