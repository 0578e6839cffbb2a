//! An outside MQTT client (plain Paho, not the actor) that watches or feeds a broker.

use std::time::Duration;

use paho_mqtt as paho;

use crate::PATIENCE;

pub struct Observer {
    client: paho::AsyncClient,
    stream: paho::AsyncReceiver<Option<paho::Message>>,
}

impl Observer {
    /// Connects anonymously to `url` and subscribes to `filters` at QoS 2.
    pub async fn connect(url: &str, filters: &[&str]) -> Observer {
        Self::connect_with(
            url,
            filters,
            paho::ConnectOptionsBuilder::new_v3()
                .clean_session(true)
                .finalize(),
        )
        .await
    }

    pub async fn connect_with(url: &str, filters: &[&str], opts: paho::ConnectOptions) -> Observer {
        let mut client = paho::CreateOptionsBuilder::new()
            .server_uri(url)
            .client_id(format!("observer-{}", crate::free_port()))
            .create_client()
            .expect("observer client");
        let stream = client.get_stream(10_000);
        client.connect(opts).await.expect("observer connects");
        for f in filters {
            client.subscribe(*f, 2).await.expect("observer subscribes");
        }
        Observer { client, stream }
    }

    /// Connects with MQTT 5, subscribing to nothing.
    pub async fn connect_v5(url: &str) -> Observer {
        let mut client = paho::CreateOptionsBuilder::new()
            .server_uri(url)
            .client_id(format!("observer5-{}", crate::free_port()))
            .mqtt_version(paho::MQTT_VERSION_5)
            .create_client()
            .expect("observer client");
        let stream = client.get_stream(10_000);
        let opts = paho::ConnectOptionsBuilder::new_v5()
            .clean_start(true)
            .finalize();
        client.connect(opts).await.expect("observer connects");
        Observer { client, stream }
    }

    /// Publishes a message built by the caller (properties, say).
    pub async fn publish_with(&self, msg: paho::MessageBuilder) {
        self.client
            .publish(msg.finalize())
            .await
            .expect("observer publishes");
    }

    /// Publishes and waits for the broker's acknowledgement.
    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>, qos: i32, retain: bool) {
        let msg = paho::MessageBuilder::new()
            .topic(topic)
            .payload(payload)
            .qos(qos)
            .retained(retain)
            .finalize();
        self.client.publish(msg).await.expect("observer publishes");
    }

    /// Publishes QoS 0 messages without waiting for each one: up to `window`
    /// are handed to the client before waiting for them to go out.
    pub async fn publish_burst(
        &self,
        messages: impl IntoIterator<Item = (String, Vec<u8>)>,
        window: usize,
    ) {
        let mut pending = Vec::with_capacity(window);
        for (topic, payload) in messages {
            let msg = paho::Message::new(topic, payload, 0);
            pending.push(self.client.publish(msg));
            if pending.len() == window {
                for token in pending.drain(..) {
                    token.await.expect("observer publishes");
                }
            }
        }
        for token in pending {
            token.await.expect("observer publishes");
        }
    }

    /// The next message, or `None` after `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<paho::Message> {
        tokio::time::timeout(wait, self.stream.recv())
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten()
    }

    /// The next message; panics after the harness's patience.
    pub async fn next(&mut self) -> paho::Message {
        self.next_within(PATIENCE)
            .await
            .expect("a message reached the observer")
    }

    /// Waits for a message on `topic`, skipping others.
    pub async fn next_on(&mut self, topic: &str) -> paho::Message {
        loop {
            let m = self.next().await;
            if m.topic() == topic {
                return m;
            }
        }
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect(None).await;
    }
}
