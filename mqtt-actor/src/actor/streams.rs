//! `SubscribeStream`: a listener bridge holds the filter for a
//! [`MessageStream`](crate::MessageStream) (see `stream.rs`).

use actix::prelude::*;

use super::MqttActor;
use crate::error::Result;
use crate::messages::Subscribe;
use crate::stream::{self, Close, MessageStream, SubscribeStream};

impl Handler<SubscribeStream> for MqttActor {
    type Result = ResponseFuture<Result<MessageStream>>;

    fn handle(&mut self, msg: SubscribeStream, ctx: &mut Context<Self>) -> Self::Result {
        let (bridge, stream) = stream::open(&msg, ctx.address().recipient());
        let subscribe = Subscribe::new(msg.filter)
            .qos(msg.qos)
            .listener(bridge.clone().recipient())
            .notices(bridge.clone().recipient())
            // Bursts wait in the bridge's backlog while the bridge (on this
            // thread) has not run yet; the reader's bound is the stream's
            // capacity.
            .capacity(msg.capacity.max(Subscribe::DEFAULT_CAPACITY));
        let granted = <Self as Handler<Subscribe>>::handle(self, subscribe, ctx);
        // Built before the answer: a caller that gives up waiting drops it,
        // and the filter is let go as with any dropped stream.
        Box::pin(async move {
            match granted.await {
                Ok(qos) => Ok(stream.granted_as(qos)),
                Err(e) => {
                    drop(stream);
                    bridge.do_send(Close);
                    Err(e)
                }
            }
        })
    }
}
