//! Headless Chromium over WebDriver: Debian's `chromium` and
//! `chromium-driver`, one ChromeDriver per test on a free port.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use tempfile::TempDir;

use crate::{free_port, wait_listening};

/// A running ChromeDriver, killed on drop with the browsers it started.
pub struct Driver {
    child: Child,
    port: u16,
    /// Chromium's profile, so that parallel tests share no browser state.
    profile: TempDir,
}

impl Driver {
    /// Starts ChromeDriver and waits until it listens.
    pub fn start() -> Driver {
        let port = free_port();
        crate::programs::CHROMIUM.require();
        let mut child = Command::new(crate::programs::CHROMEDRIVER.require())
            .arg(format!("--port={port}"))
            // Its own process group, so that drop can end the Chromium
            // processes it started too: a test that fails before closing its
            // session would otherwise leave a browser running.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        if let Err(status) = wait_listening("chromedriver", &mut child, &[port]) {
            panic!("chromedriver exited with {status}");
        }
        Driver {
            child,
            port,
            profile: tempfile::tempdir().expect("profile dir"),
        }
    }

    /// A new headless browser session (a window of 1440x1150).
    pub async fn browser(&self) -> Client {
        self.browser_with(&[]).await
    }

    /// A new headless browser session with Chromium flags added to the usual
    /// ones (`--js-flags=--expose-gc`, say).
    pub async fn browser_with(&self, extra: &[&str]) -> Client {
        self.browser_with_prefs(extra, json!({})).await
    }

    /// A new headless browser session whose downloads go to `dir` without
    /// asking (Chromium's `download.default_directory` preference).
    pub async fn browser_downloading_to(&self, dir: &std::path::Path) -> Client {
        let prefs = json!({
            "download": {
                "default_directory": dir.display().to_string(),
                "prompt_for_download": false,
                "directory_upgrade": true,
            },
        });
        self.browser_with_prefs(&[], prefs).await
    }

    /// A new headless browser session with Chromium flags added to the usual
    /// ones and Chromium preferences (`goog:chromeOptions` `prefs`) set.
    pub async fn browser_with_prefs(&self, extra: &[&str], prefs: serde_json::Value) -> Client {
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1440,1150",
        ];
        let mut args: Vec<String> = args.iter().chain(extra).map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", self.profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": crate::programs::CHROMIUM.name(), "args": args, "prefs": prefs}),
        );
        ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
