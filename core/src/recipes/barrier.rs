//! [`Barrier`]: Curator's `DistributedBarrier`.

use std::time::Duration;

use crate::client::{Client, CreateOptions};
use crate::error::{Error, Result};
use crate::proto::EventType;

use super::protected::{
    delete_quietly, end_error, ensure_containers, is_transient, parent_of, retrying,
    wait_connected, RETRIES_MAX,
};

/// A barrier interoperable with Apache Curator's `DistributedBarrier`:
/// while the node at `path` exists, [`wait`](Barrier::wait) blocks; a
/// controller raises it with [`set`](Barrier::set) and lifts it with
/// [`remove`](Barrier::remove).
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// A barrier at `path`.
    pub fn new(client: &Client, path: &str) -> Barrier {
        Barrier {
            client: client.clone(),
            path: path.to_owned(),
        }
    }

    /// Raises the barrier (creates its node, and container parents); a
    /// barrier already raised stays.
    pub async fn set(&self) -> Result<()> {
        let mut attempt = 0;
        loop {
            match self
                .client
                .create(&self.path, b"", &CreateOptions::persistent())
                .await
            {
                Ok(_) | Err(Error::NodeExists { .. }) => return Ok(()),
                Err(Error::NoNode { .. }) if attempt < RETRIES_MAX => {
                    ensure_containers(&self.client, parent_of(&self.path)).await?;
                }
                Err(err) if is_transient(&err) && attempt < RETRIES_MAX => {
                    wait_connected(&self.client).await?;
                }
                Err(err) => return Err(err),
            }
            attempt += 1;
        }
    }

    /// Lifts the barrier (deletes its node); lifting a lifted barrier does
    /// nothing.
    pub async fn remove(&self) -> Result<()> {
        delete_quietly(&self.client, &self.path).await
    }

    /// Whether the barrier is raised.
    pub async fn is_set(&self) -> Result<bool> {
        Ok(retrying(&self.client, || self.client.exists(&self.path))
            .await?
            .is_some())
    }

    /// Waits until the barrier is lifted (at once if it is not raised).
    pub async fn wait(&self) -> Result<()> {
        loop {
            let (stat, watcher) =
                retrying(&self.client, || self.client.exists_and_watch(&self.path)).await?;
            if stat.is_none() {
                return Ok(());
            }
            let event = watcher.changed().await;
            match event.event_type {
                EventType::NodeDeleted => return Ok(()),
                EventType::None => return Err(end_error(self.client.state())),
                _ => {}
            }
        }
    }

    /// As [`wait`](Barrier::wait); `false` if still raised after `timeout`.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        match tokio::time::timeout(timeout, self.wait()).await {
            Ok(result) => result.map(|()| true),
            Err(_) => Ok(false),
        }
    }
}
