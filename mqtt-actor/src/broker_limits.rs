//! What the broker allows a publish to be: retained or not, up to which QoS,
//! how large. An MQTT 5 broker announces it in CONNACK (Retain Available,
//! Maximum QoS, Maximum Packet Size, Topic Alias Maximum); an MQTT 3.1.1
//! broker announces nothing, so the settings `MQTT_RETAIN_AVAILABLE` and
//! `MQTT_MAX_QOS` say it. A broker closes the connection of a client that
//! goes past them (Mosquitto does, for every client): the library refuses
//! such a publish before it is sent, with an error to its one caller.
//!
//! Topic aliases: the library never sends a Topic Alias, so it stays within
//! any Topic Alias Maximum, 0 included.

use crate::config::MqttConfig;
use crate::error::{MqttError, Result};
use crate::messages::{MessageProperties, Publish};
use crate::qos::QoS;

/// The largest Remaining Length MQTT can encode (four bytes of varint).
const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// What the broker of the current connection allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BrokerLimits {
    /// Whether retained publishes are accepted.
    pub retain_available: bool,
    /// The highest QoS of a publish.
    pub max_qos: QoS,
    /// The largest packet, in bytes; `None`: only MQTT's own bound.
    pub max_packet_size: Option<usize>,
    /// Topic aliases the broker accepts (recorded; never used).
    pub topic_alias_max: u16,
    /// Whether SUBSCRIBEs may carry a Subscription Identifier (MQTT 5, unless
    /// the broker says otherwise), which tells the copies of a message
    /// apart when two subscriptions match it.
    pub subscription_ids: bool,
}

/// What a CONNACK announced; each `None` is a property it left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Announced {
    pub retain_available: Option<bool>,
    pub max_qos: Option<QoS>,
    pub max_packet_size: Option<u32>,
    pub topic_alias_max: Option<u16>,
    pub subscription_ids: Option<bool>,
}

impl BrokerLimits {
    /// What the settings say (all an MQTT 3.1.1 connection knows).
    pub fn from_settings(config: &MqttConfig) -> Self {
        BrokerLimits {
            retain_available: config.retain_available,
            max_qos: config.max_qos,
            max_packet_size: None,
            topic_alias_max: 0,
            subscription_ids: false,
        }
    }

    /// These limits, lowered by what an MQTT 5 CONNACK announced. A
    /// property left out means what MQTT 5 says it means: retain available,
    /// QoS 2, no packet size limit, no topic aliases.
    pub fn with(self, announced: Announced) -> Self {
        BrokerLimits {
            retain_available: self.retain_available && announced.retain_available.unwrap_or(true),
            max_qos: self
                .max_qos
                .min(announced.max_qos.unwrap_or(QoS::ExactlyOnce)),
            max_packet_size: announced.max_packet_size.map(|n| n as usize),
            topic_alias_max: announced.topic_alias_max.unwrap_or(0),
            subscription_ids: announced.subscription_ids.unwrap_or(true),
        }
    }

    /// Refuses a publish the broker at `broker` would punish.
    pub fn check(&self, p: &Publish, v5: bool, broker: &str) -> Result<()> {
        if p.retain && !self.retain_available {
            return Err(MqttError::RetainUnavailable {
                topic: p.topic.clone(),
                broker: broker.to_string(),
            });
        }
        if p.qos > self.max_qos {
            return Err(MqttError::QosNotSupported {
                topic: p.topic.clone(),
                requested: p.qos.into(),
                max: self.max_qos.into(),
                broker: broker.to_string(),
            });
        }
        let size = packet_size(p, v5);
        let max = self
            .max_packet_size
            .unwrap_or(MAX_REMAINING_LENGTH + 5)
            .min(MAX_REMAINING_LENGTH + 5);
        if size > max {
            return Err(MqttError::PacketTooLarge {
                topic: p.topic.clone(),
                size,
                max,
                broker: broker.to_string(),
            });
        }
        Ok(())
    }
}

/// Bytes of a Variable Byte Integer.
fn varint_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Bytes of the properties of a PUBLISH (without their length).
fn properties_len(p: &MessageProperties) -> usize {
    let string = |s: &Option<String>| s.as_ref().map_or(0, |s| 1 + 2 + s.len());
    string(&p.content_type)
        + string(&p.response_topic)
        + p.correlation_data.as_ref().map_or(0, |d| 1 + 2 + d.len())
        + p.message_expiry_interval.map_or(0, |_| 1 + 4)
        + p.payload_format_indicator.map_or(0, |_| 1 + 1)
        + p.user_properties
            .iter()
            .map(|(k, v)| 1 + 2 + k.len() + 2 + v.len())
            .sum::<usize>()
}

/// The size of the PUBLISH packet `p` makes, fixed header included.
pub(crate) fn packet_size(p: &Publish, v5: bool) -> usize {
    let packet_id = if p.qos == QoS::AtMostOnce { 0 } else { 2 };
    let properties = if v5 {
        let len = properties_len(&p.properties);
        varint_len(len) + len
    } else {
        0
    };
    let remaining = 2 + p.topic.len() + packet_id + properties + p.payload.len();
    1 + varint_len(remaining) + remaining
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(retain: bool, max_qos: QoS) -> BrokerLimits {
        BrokerLimits::from_settings(&MqttConfig {
            retain_available: retain,
            max_qos,
            ..MqttConfig::default()
        })
    }

    #[test]
    fn retained_publishes_empty_ones_too_are_refused_when_retain_is_unavailable() {
        let limits = settings(false, QoS::ExactlyOnce);
        for p in [
            Publish::new("a", "x").retain(true),
            Publish::new("a", "").retain(true),
        ] {
            assert!(matches!(
                limits.check(&p, false, "b"),
                Err(MqttError::RetainUnavailable { .. })
            ));
        }
        assert_eq!(limits.check(&Publish::new("a", "x"), false, "b"), Ok(()));
    }

    #[test]
    fn a_qos_above_the_maximum_is_refused_with_both_numbers() {
        let limits = settings(true, QoS::AtLeastOnce);
        let err = limits
            .check(&Publish::new("a", "x").qos(QoS::ExactlyOnce), false, "b")
            .unwrap_err();
        assert!(matches!(
            err,
            MqttError::QosNotSupported {
                requested: 2,
                max: 1,
                ..
            }
        ));
        let ok = Publish::new("a", "x").qos(QoS::AtLeastOnce);
        assert_eq!(limits.check(&ok, false, "b"), Ok(()));
    }

    #[test]
    fn a_connack_lowers_the_settings_and_its_silence_means_mqtt5_defaults() {
        let base = settings(true, QoS::ExactlyOnce);
        let silent = base.with(Announced::default());
        assert_eq!(
            silent,
            BrokerLimits {
                subscription_ids: true,
                ..base
            }
        );
        let strict = base.with(Announced {
            retain_available: Some(false),
            max_qos: Some(QoS::AtLeastOnce),
            max_packet_size: Some(100),
            topic_alias_max: Some(10),
            subscription_ids: Some(false),
        });
        assert!(!strict.subscription_ids);
        assert!(!strict.retain_available);
        assert_eq!(strict.max_qos, QoS::AtLeastOnce);
        assert_eq!(strict.max_packet_size, Some(100));
        let lowered = settings(true, QoS::AtMostOnce).with(Announced {
            max_qos: Some(QoS::ExactlyOnce),
            ..Announced::default()
        });
        assert_eq!(lowered.max_qos, QoS::AtMostOnce, "a setting only lowers");
    }

    #[test]
    fn packet_sizes_count_every_byte_of_the_publish() {
        // 1 (type) + 1 (length) + 2 + 3 ("a/b") + 2 ("hi")
        assert_eq!(packet_size(&Publish::new("a/b", "hi"), false), 9);
        // + packet id; + property length 0 on MQTT 5
        let q1 = Publish::new("a/b", "hi").qos(QoS::AtLeastOnce);
        assert_eq!(packet_size(&q1, false), 11);
        assert_eq!(packet_size(&q1, true), 12);
        // Content-Type "t": 1 + 2 + 1; User-Property k=v: 1 + 3 + 3
        let props = Publish::new("a/b", "hi")
            .content_type("t")
            .user_property("k", "v");
        assert_eq!(packet_size(&props, true), 9 + 1 + 4 + 7);
        // A 200-byte payload needs two bytes of remaining length.
        assert_eq!(packet_size(&Publish::new("a", vec![0u8; 200]), false), 206);
        let limits = BrokerLimits {
            max_packet_size: Some(205),
            ..settings(true, QoS::ExactlyOnce)
        };
        let big = Publish::new("a", vec![0u8; 200]);
        assert!(matches!(
            limits.check(&big, false, "b"),
            Err(MqttError::PacketTooLarge {
                size: 206,
                max: 205,
                ..
            })
        ));
    }
}
