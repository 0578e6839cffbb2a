//! A real RabbitMQ cluster with its MQTT plugin (Debian's `rabbitmq-server`),
//! started by the test itself: each node with its own name, ports (AMQP,
//! Erlang distribution, MQTT, all on 127.0.0.1), data, log and config
//! directories in a temp dir, one Erlang cookie for all, `rabbitmq_mqtt`
//! enabled through its own plugins file; the nodes are joined with
//! `rabbitmqctl` and killed on drop (the Erlang VM by the pid it wrote, then
//! the start script that waits for it). The one shared, fixed port is epmd's
//! (4369): nodes register there, and one already running is fine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{free_port, wait_listening_within};

/// How long a node may take to boot: about 10 s on an idle machine, several
/// times that when the machine is busy; a passing test never waits this long.
const BOOT_PATIENCE: Duration = Duration::from_secs(180);

/// The server and its control tool, where Debian puts them (the wrappers in
/// /usr/sbin would switch to the `rabbitmq` user and its fixed directories).
const SERVER: &str = crate::programs::RABBITMQ_SERVER.name();
const CTL: &str = crate::programs::RABBITMQCTL.name();

pub struct RabbitNode {
    /// `rabbit-PORT@localhost`: unique on the machine, since epmd is shared.
    pub name: String,
    pub mqtt_port: u16,
    amqp_port: u16,
    dist_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

pub struct RabbitCluster {
    /// `HOME` of the nodes and of `rabbitmqctl`: holds the shared cookie.
    home: TempDir,
    pub nodes: Vec<RabbitNode>,
}

impl RabbitCluster {
    /// Starts `n` nodes at once, waits until each serves MQTT, and joins
    /// every other node to the first. Fails, naming the package to install,
    /// when RabbitMQ is missing.
    pub fn start(n: usize) -> RabbitCluster {
        crate::programs::RABBITMQ_SERVER.require();
        crate::programs::RABBITMQCTL.require();
        let home = tempfile::tempdir().expect("temp dir");
        let cookie = home.path().join(".erlang.cookie");
        std::fs::write(&cookie, format!("mqtt-actor-test-{}", free_port())).expect("cookie");
        set_owner_only(&cookie);
        let mut cluster = RabbitCluster {
            nodes: (0..n).map(|_| RabbitNode::new(home.path())).collect(),
            home,
        };
        for i in 0..n {
            cluster.launch(i);
        }
        for i in 0..n {
            cluster.wait_serving(i);
        }
        let first = cluster.nodes[0].name.clone();
        for i in 1..n {
            let name = cluster.nodes[i].name.clone();
            cluster.ctl(&name, &["stop_app"]);
            cluster.ctl(&name, &["join_cluster", &first]);
            cluster.ctl(&name, &["start_app"]);
            cluster.wait_serving(i);
        }
        cluster
    }

    /// `tcp://127.0.0.1:PORT` of node `i`'s MQTT listener.
    pub fn mqtt_url(&self, i: usize) -> String {
        format!("tcp://127.0.0.1:{}", self.nodes[i].mqtt_port)
    }

    /// Stops node `i` cleanly (`rabbitmqctl stop`) and waits for its end.
    pub fn stop_node(&mut self, i: usize) {
        let name = self.nodes[i].name.clone();
        self.ctl(&name, &["stop"]);
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.wait();
        }
    }

    fn launch(&mut self, i: usize) {
        let node = &self.nodes[i];
        let child = self
            .command(SERVER, Some(node))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rabbitmq-server starts");
        self.nodes[i].child = Some(child);
    }

    fn wait_serving(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let ports = [node.mqtt_port, node.amqp_port];
        let child = node.child.as_mut().expect("the node was started");
        if let Err(status) = wait_listening_within(&node.name, child, &ports, BOOT_PATIENCE) {
            let log = std::fs::read_dir(node.dir.join("log"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<String>();
            panic!("{} exited with {status}; its log:\n{log}", node.name);
        }
    }

    /// Runs `rabbitmqctl -n NODE args`, which must succeed.
    fn ctl(&self, node: &str, args: &[&str]) {
        let out = self
            .command(CTL, None)
            .arg("-n")
            .arg(node)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            out.status.success(),
            "rabbitmqctl -n {node} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `program` with the environment of a node (or of `rabbitmqctl` when
    /// `node` is None): nothing from the machine's own RabbitMQ set-up.
    fn command(&self, program: &str, node: Option<&RabbitNode>) -> Command {
        let mut cmd = Command::new(program);
        let empty_env = self.home.path().join("rabbitmq-env.conf");
        let _ = std::fs::write(&empty_env, "");
        cmd.env("HOME", self.home.path())
            .env("RABBITMQ_CONF_ENV_FILE", &empty_env)
            .env("ERL_EPMD_ADDRESS", "127.0.0.1");
        if let Some(node) = node {
            let dir = &node.dir;
            cmd.env("RABBITMQ_NODENAME", &node.name)
                .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
                .env("RABBITMQ_NODE_PORT", node.amqp_port.to_string())
                .env("RABBITMQ_DIST_PORT", node.dist_port.to_string())
                .env(
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                    "-kernel inet_dist_use_interface {127,0,0,1}",
                )
                .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
                .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
                .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
                .env("RABBITMQ_PLUGINS_EXPAND_DIR", dir.join("plugins-expand"))
                .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
                .env("RABBITMQ_LOG_BASE", dir.join("log"))
                .env("RABBITMQ_PID_FILE", dir.join("pid"));
        }
        cmd
    }
}

impl RabbitNode {
    /// A node's directory and config under `home`, on free ports.
    fn new(home: &Path) -> RabbitNode {
        let (amqp_port, dist_port, mqtt_port) = (free_port(), free_port(), free_port());
        let name = format!("rabbit-{dist_port}@localhost");
        let dir = home.join(format!("node-{dist_port}"));
        std::fs::create_dir_all(dir.join("log")).expect("node dir");
        std::fs::write(dir.join("enabled_plugins"), "[rabbitmq_mqtt].\n").expect("plugins file");
        let conf = format!(
            "listeners.tcp.default = 127.0.0.1:{amqp_port}
mqtt.listeners.tcp.default = 127.0.0.1:{mqtt_port}
mqtt.allow_anonymous = true
log.console = false
log.file.level = warning
"
        );
        std::fs::write(dir.join("rabbitmq.conf"), conf).expect("node config");
        RabbitNode {
            name,
            mqtt_port,
            amqp_port,
            dist_port,
            dir,
            child: None,
        }
    }
}

#[cfg(unix)]
fn set_owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("cookie mode");
}

#[cfg(not(unix))]
fn set_owner_only(_: &Path) {}

impl Drop for RabbitCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                // The script runs the VM as its own child and only passes on
                // SIGTERM (for a clean, slower stop): kill the VM itself.
                if let Ok(pid) = std::fs::read_to_string(node.dir.join("pid")) {
                    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
