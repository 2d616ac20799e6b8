//! The seam between the transfer drivers and whatever carries their messages.
//!
//! The drivers in [`super::send`] and [`super::receive`] only need to send text (control) and
//! binary (data frames) messages, and to receive [`super::channels::ChannelEvent`]s. A WebRTC
//! data channel does that ([`RtcChannel`]); so can another carrier (e.g. an encrypted relay
//! over the signaling WebSocket when UDP is blocked) by implementing [`MessageOut`].

use bytes::BytesMut;
use std::sync::Arc;
use webrtc::data_channel::DataChannel;

use crate::error::CoreError;

/// Sending half of one message channel.
#[async_trait::async_trait]
pub trait MessageOut: Send + Sync {
    /// Sends one control message (JSON text).
    async fn send_text(&self, text: &str) -> Result<(), CoreError>;
    /// Sends one binary message (a data frame). May wait for buffer space: that wait is the
    /// sender's backpressure.
    async fn send_binary(&self, frame: BytesMut) -> Result<(), CoreError>;
    /// Bytes accepted but not yet delivered, so a closing side can let them drain.
    async fn outstanding(&self) -> usize;
}

/// A WebRTC data channel as a [`MessageOut`].
pub struct RtcChannel(pub Arc<dyn DataChannel>);

#[async_trait::async_trait]
impl MessageOut for RtcChannel {
    async fn send_text(&self, text: &str) -> Result<(), CoreError> {
        self.0
            .send_text(text)
            .await
            .map_err(|e| CoreError::Connect(format!("sending control message: {e}")))
    }

    async fn send_binary(&self, frame: BytesMut) -> Result<(), CoreError> {
        self.0
            .send(frame)
            .await
            .map_err(|e| CoreError::Connect(format!("sending data: {e}")))
    }

    async fn outstanding(&self) -> usize {
        self.0.outstanding_bytes().await.unwrap_or(0)
    }
}
