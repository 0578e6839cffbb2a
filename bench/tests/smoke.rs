//! Keeps the benchmark compiling and working: a second or so per
//! configuration of `--smoke --matrix` against a real Mosquitto and the app.
//! Asserts what it produced and that each configuration took effect, never
//! how fast anything was.

use std::process::Command;

use serde_json::Value;

fn steps_sum(target: &Value, field: &str) -> u64 {
    target["ladder"]
        .as_array()
        .expect("ladder steps")
        .iter()
        .filter_map(|s| s[field].as_u64())
        .sum()
}

#[test]
fn smoke_run_measures_every_configuration_with_deliveries() {
    let bench = env!("CARGO_BIN_EXE_mqtt-bench");
    let mut command = Command::new(bench);
    command.args(["--smoke", "--matrix", "--json"]);
    // `cargo test --workspace` builds the app beside the benchmark (for
    // example-app's own process tests), with the features of the whole
    // workspace: use it, since `cargo build -p example-app` would build the
    // app and half its dependencies again with fewer features. Run alone,
    // the benchmark builds it.
    let app = std::path::Path::new(bench).with_file_name("example-app");
    if app.exists() {
        command.arg("--app").arg(app);
    }
    let out = command.output().expect("the benchmark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "benchmark failed:\n{stderr}");
    for table in [
        "| receivers | native MQTT subscribers on Mosquitto | WebSocket sessions through the app |",
        "| receivers | broker | receivers per message | native | app | app / native |",
    ] {
        assert!(stderr.contains(table), "no table {table}:\n{stderr}");
    }
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report on stdout");
    let configs = report["configs"].as_array().expect("configurations");
    let mut seen = Vec::new();
    for c in configs {
        let nodelay = c["config"]["broker_tcp_nodelay"]
            .as_bool()
            .expect("broker mode");
        let decode = c["config"]["decode"]
            .as_str()
            .expect("decode mode")
            .to_string();
        let case = &c["runs"][0][0];
        assert_eq!(case["receivers"], 1);
        let broker_config = case["broker_config"].as_str().expect("broker config");
        assert_eq!(
            broker_config.contains("set_tcp_nodelay true"),
            nodelay,
            "broker config for nodelay={nodelay}:\n{broker_config}"
        );
        for target in ["native", "app"] {
            let delivered = steps_sum(&case[target], "delivered");
            let decoded = steps_sum(&case[target], "decoded");
            assert!(delivered > 0, "{target} {decode}: nothing delivered");
            if decode == "full" {
                assert!(
                    decoded >= delivered,
                    "{target}: {decoded} decoded whole of {delivered} delivered"
                );
            } else {
                assert_eq!(decoded, 0, "{target}: decoded whole without --decode full");
            }
        }
        assert_eq!(c["summary"][0]["receivers"], 1);
        seen.push((nodelay, decode));
    }
    seen.sort();
    let want = [
        (false, "full"),
        (false, "stamp"),
        (true, "full"),
        (true, "stamp"),
    ];
    assert_eq!(seen, want.map(|(n, d)| (n, d.to_string())));
}
