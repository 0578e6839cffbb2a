//! Configuring: the same settings as Flask-MQTT (`MQTT_BROKER_URL`, ...), built
//! in code, read from the environment, or parsed from TOML / JSON. Needs no broker.
//!
//! ```sh
//! cargo run -p mqtt-actor --example configure
//! MQTT_BROKER_PORT=1884 SENSORS_BROKER_URL=10.0.0.2 cargo run -p mqtt-actor --example configure
//! ```

use std::time::Duration;

use mqtt_actor::{MqttConfig, QoS};

fn show(how: &str, config: &MqttConfig) {
    println!(
        "{how:<28} {} keepalive={}s clean_session={} client_id={:?} will={:?}",
        config.server_uri(),
        config.keepalive.as_secs(),
        config.clean_session,
        config.client_id,
        config.last_will_topic,
    );
}

fn main() -> mqtt_actor::Result<()> {
    // 1. In code: set what differs, `Default` gives Flask-MQTT's defaults for the rest.
    let mut in_code = MqttConfig::default();
    in_code.broker_url = "broker.local".into();
    in_code.client_id = "kitchen-display".into();
    in_code.keepalive = Duration::from_secs(30);
    in_code.last_will_topic = Some("home/kitchen/display/status".into());
    in_code.last_will_message = "offline".into();
    in_code.last_will_qos = QoS::AtLeastOnce;
    in_code.validate()?;
    show("Default + fields:", &in_code);

    // 2. From the environment: MQTT_* variables, or another prefix
    //    (Flask-MQTT's `config_prefix`): SENSORS_BROKER_URL, SENSORS_KEEPALIVE, ...
    show("from_env():", &MqttConfig::from_env()?);
    show(
        "from_env_with_prefix(SENSORS):",
        &MqttConfig::from_env_with_prefix("SENSORS")?,
    );

    // 3. From a file's text (`from_file` picks TOML or JSON by extension);
    //    keys are field names or the full setting names.
    let from_toml = MqttConfig::from_toml_str(
        r#"
        broker_url = "mqtt.example.com"
        MQTT_BROKER_PORT = 8883
        tls_enabled = true
        keepalive = 15
        "#,
    )?;
    show("from_toml_str:", &from_toml);
    show(
        "from_json_str:",
        &MqttConfig::from_json_str(r#"{"broker_url": "10.0.0.3", "clean_session": false}"#)?,
    );

    // A bad value is an error that names the setting and the value.
    if let Err(e) = MqttConfig::from_toml_str("broker_port = \"eighteen\"") {
        println!("a bad value: {e}");
    }
    Ok(())
}
