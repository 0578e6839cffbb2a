//! Messages to the `MqttActor` take effect in mailbox order, also while a
//! subscription step is in flight: an `Unsubscribe` (or `UnsubscribeAll`)
//! withdraws its holder's `Subscribe`s still waiting for the next step, so
//! a holder whose last word was to let go of a filter does not hold it.
//! Against Mosquitto, whose process is stopped ([`Stalled`]) while the
//! SUBACK of the step in flight is awaited.

use actix::prelude::*;
use mqtt_actor::*;
use test_support::*;

/// Stops a [`Collector`].
#[derive(Message)]
#[rtype(result = "()")]
struct Stop;

impl Handler<Stop> for Collector {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// The broker, the actor under test (its application records what it
/// gets) and a publisher, both connected. The broker stays stopped for as
/// long as a test needs: nothing times out meanwhile.
struct Setup {
    broker: Mosquitto,
    mqtt: Addr<MqttActor>,
    app_seen: Recorded<MqttMessage>,
    publisher: Addr<MqttActor>,
}

impl Setup {
    async fn start() -> Setup {
        init_logging();
        let broker = Mosquitto::start();
        let mut config = mqtt_config(&broker.url());
        config.request_timeout = PATIENCE;
        config.keepalive = PATIENCE * 2;
        let (app_seen, on_message) = recorder::<MqttMessage>();
        let mqtt = MqttActor::builder(config.clone())
            .on_message(on_message)
            .start()
            .expect("the actor starts");
        let publisher = MqttActor::builder(config)
            .start()
            .expect("the publisher starts");
        wait_connected(&mqtt, true).await;
        wait_connected(&publisher, true).await;
        Setup {
            broker,
            mqtt,
            app_seen,
            publisher,
        }
    }

    async fn publish(&self, topic: &str) {
        self.publisher
            .send(Publish::new(topic, "x").qos(QoS::AtLeastOnce))
            .await
            .expect("the publisher answers")
            .expect("published");
    }

    /// The filters held, with how many listeners hold each.
    async fn held(&self) -> Vec<(String, usize)> {
        let subs = self.mqtt.send(GetSubscriptions).await.expect("answers");
        subs.into_iter().map(|s| (s.filter, s.listeners)).collect()
    }

    /// Publishes on `f`, then on `a`, and waits until `seen` got `a`'s:
    /// `f`'s, published first by the same client, would have come before.
    async fn gets_nothing_of_f(&self, seen: &Recorded<MqttMessage>) {
        self.publish("order/f").await;
        self.publish("order/a").await;
        wait_for(seen, "order/a").await;
        assert_eq!(topics(seen), ["order/a"], "nothing of order/f");
    }
}

fn withdrawn(filter: &str) -> Result<QoS, MqttError> {
    Err(MqttError::Withdrawn {
        filter: filter.to_string(),
    })
}

#[actix_rt::test]
async fn an_unsubscribe_withdraws_the_subscribe_of_its_filter_waiting_for_a_step() {
    let setup = Setup::start().await;
    let (actor, seen) = collector();
    let listener = actor.recipient();
    let (sub_a, sub_f) = {
        let _stalled = Stalled::broker(&setup.broker);
        let sub_a = setup
            .mqtt
            .send(Subscribe::new("order/a").listener(listener.clone()));
        // Waits for the next step: the one of order/a is in flight.
        let sub_f = setup
            .mqtt
            .send(Subscribe::new("order/f").listener(listener.clone()));
        let unsub = setup
            .mqtt
            .send(Unsubscribe::new("order/f").listener(listener.clone()))
            .await
            .expect("the actor answers");
        assert_eq!(unsub, Ok(()), "the unsubscribe withdrew the subscribe");
        (sub_a, sub_f)
    };
    let sub_f = sub_f.await.expect("the actor answers");
    assert_eq!(sub_f, withdrawn("order/f"));
    let message = sub_f.unwrap_err().to_string();
    assert!(message.contains("withdrawn"), "{message}");
    assert_eq!(sub_a.await.expect("the actor answers"), Ok(QoS::AtMostOnce));

    assert_eq!(setup.held().await, [("order/a".to_string(), 1)]);
    setup.gets_nothing_of_f(&seen).await;
}

#[actix_rt::test]
async fn an_unsubscribe_all_withdraws_every_subscribe_of_its_holder_waiting_for_a_step() {
    let setup = Setup::start().await;
    let (actor, seen) = collector();
    let listener = actor.recipient();
    let (sub_a, sub_f, all, again) = {
        let _stalled = Stalled::broker(&setup.broker);
        let sub_a = setup
            .mqtt
            .send(Subscribe::new("order/a").listener(listener.clone()));
        let sub_f = setup
            .mqtt
            .send(Subscribe::new("order/f").listener(listener.clone()));
        let all = setup.mqtt.send(UnsubscribeAll::of(listener.clone()));
        // After the release, in mailbox order: this one stands.
        let again = setup
            .mqtt
            .send(Subscribe::new("order/a").listener(listener.clone()));
        // Handled after the four: nothing is held, nothing left waiting
        // but the last subscribe.
        assert!(setup.held().await.is_empty());
        (sub_a, sub_f, all, again)
    };
    assert_eq!(
        sub_f.await.expect("the actor answers"),
        withdrawn("order/f")
    );
    // In flight when released: answered once granted, then let go of.
    assert_eq!(sub_a.await.expect("the actor answers"), Ok(QoS::AtMostOnce));
    assert_eq!(all.await.expect("the actor answers"), Ok(()));
    assert_eq!(again.await.expect("the actor answers"), Ok(QoS::AtMostOnce));

    assert_eq!(setup.held().await, [("order/a".to_string(), 1)]);
    setup.gets_nothing_of_f(&seen).await;
}

#[actix_rt::test]
async fn an_unsubscribe_with_nothing_held_or_waiting_is_refused_and_withdraws_no_other_holders() {
    let setup = Setup::start().await;
    let (actor, seen) = collector();
    let listener = actor.recipient();
    let (sub_a, app_f) = {
        let _stalled = Stalled::broker(&setup.broker);
        let sub_a = setup
            .mqtt
            .send(Subscribe::new("order/a").listener(listener.clone()));
        // The application's, waiting for the next step.
        let app_f = setup.mqtt.send(Subscribe::new("order/f"));
        let unsub = setup
            .mqtt
            .send(Unsubscribe::new("order/f").listener(listener.clone()))
            .await
            .expect("the actor answers");
        let not_subscribed = |filter: &str| {
            Err(MqttError::NotSubscribed {
                filter: filter.to_string(),
            })
        };
        assert_eq!(
            unsub,
            not_subscribed("order/f"),
            "the listener asked for none"
        );
        let unsub = setup
            .mqtt
            .send(Unsubscribe::new("order/g"))
            .await
            .expect("the actor answers");
        assert_eq!(unsub, not_subscribed("order/g"));
        (sub_a, app_f)
    };
    assert_eq!(sub_a.await.expect("the actor answers"), Ok(QoS::AtMostOnce));
    assert_eq!(app_f.await.expect("the actor answers"), Ok(QoS::AtMostOnce));

    let mut held = setup.held().await;
    held.sort();
    assert_eq!(
        held,
        [("order/a".to_string(), 1), ("order/f".to_string(), 0)]
    );
    setup.publish("order/f").await;
    setup.publish("order/a").await;
    wait_for(&seen, "order/a").await;
    assert_eq!(topics(&seen), ["order/a"]);
    wait_for(&setup.app_seen, "order/f").await;
}

#[actix_rt::test]
async fn a_listener_that_stops_while_its_subscribe_waits_for_a_step_is_not_subscribed() {
    let setup = Setup::start().await;
    let (actor, _) = collector();
    let listener = actor.clone().recipient();
    let (app_a, sub_f) = {
        let _stalled = Stalled::broker(&setup.broker);
        let app_a = setup.mqtt.send(Subscribe::new("order/a"));
        let sub_f = setup
            .mqtt
            .send(Subscribe::new("order/f").listener(listener.clone()));
        actor.send(Stop).await.expect("the listener answers");
        eventually("the listener stopped", || async {
            (!listener.connected()).then_some(())
        })
        .await;
        (app_a, sub_f)
    };
    assert_eq!(app_a.await.expect("the actor answers"), Ok(QoS::AtMostOnce));
    assert_eq!(
        sub_f.await.expect("the actor answers"),
        withdrawn("order/f")
    );
    assert_eq!(setup.held().await, [("order/a".to_string(), 0)]);
}
