//! `Request`: publishing with a response topic and correlation data, and
//! waiting for the reply through the reply desk (see `request.rs`).

use actix::prelude::*;
use futures::channel::oneshot;

use super::listeners::Holder;
use super::MqttActor;
use crate::config::ProtocolVersion;
use crate::error::{MqttError, Result};
use crate::messages::{MqttMessage, Subscribe};
use crate::qos::QoS;
use crate::request::{Expect, ReplyDesk, Request};
use crate::topic::validate_topic;

impl MqttActor {
    /// The reply desk, and the `Subscribe` of the reply filter when it is
    /// not granted yet (first request, or lost since).
    fn reply_desk(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> (Addr<ReplyDesk>, Option<ResponseFuture<Result<QoS>>>) {
        let desk = self
            .requests
            .desk
            .get_or_insert_with(ReplyDesk::start)
            .clone();
        let filter = self.requests.filter();
        let holder = Holder::Listener(desk.clone().recipient());
        let granted = self
            .index
            .entry(&filter)
            .and_then(|e| e.holders.get(&holder))
            .is_some_and(|h| h.pending.is_none());
        if granted {
            return (desk, None);
        }
        let subscribe = Subscribe::new(filter)
            .qos(QoS::AtLeastOnce)
            .listener(desk.clone().recipient());
        let answer = <Self as Handler<Subscribe>>::handle(self, subscribe, ctx);
        (desk, Some(answer))
    }

    /// Why a request cannot go out, if it cannot.
    fn check_request(&self, req: &Request) -> Result<()> {
        if self.config.protocol_version == ProtocolVersion::V311 {
            return Err(MqttError::NeedsMqtt5 {
                what: format!(
                    "a request (response topic and correlation data) to {:?}",
                    req.publish.topic
                ),
            });
        }
        validate_topic(&self.requests.prefix).map_err(|e| {
            MqttError::Client(format!(
                "the reply topic prefix {:?} cannot be used ({e}); \
                 set one with MqttActorBuilder::reply_topic_prefix",
                self.requests.prefix
            ))
        })?;
        self.check_publish(&req.publish)
    }
}

impl Handler<Request> for MqttActor {
    type Result = ResponseFuture<Result<MqttMessage>>;

    fn handle(&mut self, req: Request, ctx: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.check_request(&req) {
            return Box::pin(async move { Err(e) });
        }
        let (desk, subscribing) = self.reply_desk(ctx);
        let (response_topic, correlation) = self.requests.next();
        let topic = req.publish.topic.clone();
        let timeout = req.timeout;
        let publish = req
            .publish
            .response_topic(response_topic)
            .correlation_data(correlation.clone());
        let me = ctx.address();
        let exchange = async move {
            if let Some(granted) = subscribing {
                granted.await?;
            }
            let (reply, answer) = oneshot::channel();
            // Waits until the desk knows the request, so no reply can
            // arrive before it.
            desk.send(Expect { correlation, reply }).await?;
            me.send(publish).await??;
            answer.await.map_err(|_| MqttError::Stopped)
        };
        Box::pin(async move {
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or(Err(MqttError::NoReply { topic, timeout }))
        })
    }
}
