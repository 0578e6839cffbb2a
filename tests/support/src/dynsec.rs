//! A Mosquitto with the dynamic security plugin, whose roles can deny
//! subscriptions: the broker answers SUBACK 0x80 (MQTT 3.1.1) or 0x87
//! (MQTT 5). Stopped and started again with other roles, it refuses the
//! re-SUBSCRIBEs of filters it granted before.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, PATIENCE};

const DYNSEC_PLUGIN: &str = crate::programs::MOSQUITTO_DYNSEC.name();

pub struct DynsecBroker {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl DynsecBroker {
    /// Anonymous clients may subscribe to anything but the `denied` filters:
    /// patterns (`secret/#` denies `secret/x` too), or, written `=f`, the
    /// filter `f` alone.
    pub fn start(denied: &[&str]) -> DynsecBroker {
        crate::programs::MOSQUITTO_DYNSEC.require();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut broker = DynsecBroker {
            port: free_port(),
            dir,
            child: None,
        };
        let conf = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n\
             log_type error\nplugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {}\n",
            broker.port,
            broker.dynsec_path().display()
        );
        std::fs::write(broker.dir.path().join("mosquitto.conf"), conf).expect("config");
        broker.deny(denied);
        broker.resume();
        broker
    }

    fn dynsec_path(&self) -> PathBuf {
        self.dir.path().join("dynamic-security.json")
    }

    /// Rewrites the roles (read when the broker starts).
    pub fn deny(&self, patterns: &[&str]) {
        let acls: Vec<serde_json::Value> = patterns
            .iter()
            .map(|p| {
                let (acltype, topic) = match p.strip_prefix('=') {
                    Some(literal) => ("subscribeLiteral", literal),
                    None => ("subscribePattern", *p),
                };
                serde_json::json!({"acltype": acltype, "topic": topic,
                                   "priority": 10, "allow": false})
            })
            .collect();
        let doc = serde_json::json!({
            "defaultACLAccess": {"publishClientSend": true, "publishClientReceive": true,
                                 "subscribe": true, "unsubscribe": true},
            "clients": [],
            "groups": [{"groupname": "anon", "roles": [{"rolename": "r"}], "clients": []}],
            "roles": [{"rolename": "r", "acls": acls}],
            "anonymousGroup": "anon"
        });
        let mut f = std::fs::File::create(self.dynsec_path()).expect("dynsec file");
        f.write_all(doc.to_string().as_bytes())
            .expect("write dynsec");
    }

    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn resume(&mut self) {
        let child = Command::new(crate::programs::MOSQUITTO.require())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < PATIENCE, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DynsecBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
