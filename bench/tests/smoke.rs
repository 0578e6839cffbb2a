//! Keeps the benchmark compiling and working: a second or so of `--smoke`
//! against a real Mosquitto and the app. Asserts what it produced, never how
//! fast anything was.

use std::process::Command;

use serde_json::Value;

#[test]
fn smoke_run_reports_both_targets_with_deliveries() {
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-bench"))
        // The app binary is found (built when missing) beside the benchmark's.
        .args(["--smoke", "--json"])
        .output()
        .expect("the benchmark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "benchmark failed:\n{stderr}");
    assert!(
        stderr.contains("| receivers | native MQTT subscribers on Mosquitto | WebSocket sessions through the app |"),
        "no table:\n{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report on stdout");
    let case = &report["runs"][0][0];
    assert_eq!(case["receivers"], 1);
    for target in ["native", "app"] {
        let steps = case[target]["ladder"].as_array().expect("ladder steps");
        let delivered: u64 = steps.iter().filter_map(|s| s["delivered"].as_u64()).sum();
        assert!(
            delivered > 0,
            "{target}: nothing delivered: {}",
            case[target]
        );
    }
    assert_eq!(report["summary"][0]["receivers"], 1);
}
