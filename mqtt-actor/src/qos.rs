//! [`QoS`], MQTT's quality of service: the word every other file shares,
//! on the lowest floor so that topics, settings and messages can all use it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{MqttError, Result};

/// MQTT quality of service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "u8")]
pub enum QoS {
    /// QoS 0: fire and forget.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: acknowledged with PUBACK, may be duplicated.
    AtLeastOnce = 1,
    /// QoS 2: exactly once, acknowledged with PUBCOMP.
    ExactlyOnce = 2,
}

impl TryFrom<i64> for QoS {
    type Error = MqttError;
    fn try_from(v: i64) -> Result<Self> {
        match v {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(MqttError::InvalidQos(other)),
        }
    }
}

impl TryFrom<i32> for QoS {
    type Error = MqttError;
    fn try_from(v: i32) -> Result<Self> {
        QoS::try_from(i64::from(v))
    }
}

impl TryFrom<u8> for QoS {
    type Error = MqttError;
    fn try_from(v: u8) -> Result<Self> {
        QoS::try_from(i64::from(v))
    }
}

impl From<QoS> for u8 {
    fn from(q: QoS) -> u8 {
        q as u8
    }
}

impl From<QoS> for i32 {
    fn from(q: QoS) -> i32 {
        q as i32
    }
}

impl fmt::Display for QoS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_accepts_only_0_1_2() {
        assert_eq!(QoS::try_from(2i64).unwrap(), QoS::ExactlyOnce);
        assert_eq!(QoS::try_from(3i64), Err(MqttError::InvalidQos(3)));
        assert!(serde_json::from_str::<QoS>("7").is_err());
        assert_eq!(serde_json::to_string(&QoS::AtLeastOnce).unwrap(), "1");
    }
}
