//! [`DoubleBarrier`]: Curator's `DistributedDoubleBarrier`.

use std::time::{Duration, Instant};

use crate::client::{Client, CreateOptions};
use crate::error::{Error, Result};

use super::protected::{
    delete_quietly, ensure_containers, is_transient, join, random_uuid, retrying, wait_connected,
    wait_for_watch, RETRIES_MAX,
};

/// Curator's name of the node that opens the barrier.
pub const READY_NODE: &str = "ready";

/// A double barrier interoperable with Apache Curator's
/// `DistributedDoubleBarrier`: `members` participants
/// [`enter`](DoubleBarrier::enter) together (each waits until all have
/// arrived) and [`leave`](DoubleBarrier::leave) together (each waits until
/// all have left).
///
/// Each participant is an ephemeral node `<path>/<uuid>`; the last to
/// arrive creates `<path>/ready`. To leave, the lowest-named participant
/// waits for the highest to go while every other deletes its node and
/// waits for the lowest, so no participant watches all the others.
#[derive(Debug)]
pub struct DoubleBarrier {
    client: Client,
    path: String,
    members: usize,
    our_name: String,
}

impl DoubleBarrier {
    /// A participant of the barrier at `path` for `members` participants.
    pub fn new(client: &Client, path: &str, members: usize) -> DoubleBarrier {
        DoubleBarrier {
            client: client.clone(),
            path: path.to_owned(),
            members,
            our_name: random_uuid(),
        }
    }

    fn our_path(&self) -> String {
        join(&self.path, &self.our_name)
    }

    /// Enters and waits until every participant has entered.
    pub async fn enter(&self) -> Result<()> {
        self.enter_until(None).await.map(|_| ())
    }

    /// As [`enter`](DoubleBarrier::enter); `false` if the others did not
    /// all arrive within `timeout` (this participant stays entered).
    pub async fn enter_timeout(&self, timeout: Duration) -> Result<bool> {
        self.enter_until(Some(Instant::now() + timeout)).await
    }

    async fn enter_until(&self, deadline: Option<Instant>) -> Result<bool> {
        let ready = join(&self.path, READY_NODE);
        let (ready_stat, ready_watch) =
            retrying(&self.client, || self.client.exists_and_watch(&ready)).await?;
        self.create_ours().await?;
        if ready_stat.is_some() {
            return Ok(true);
        }
        let children = retrying(&self.client, || self.client.get_children(&self.path)).await?;
        if children.len() >= self.members {
            let persistent = CreateOptions::persistent();
            match retrying(&self.client, || {
                self.client.create(&ready, b"", &persistent)
            })
            .await
            {
                Ok(_) | Err(Error::NodeExists { .. }) => return Ok(true),
                Err(err) => return Err(err),
            }
        }
        wait_for_watch(&self.client, ready_watch, deadline).await
    }

    async fn create_ours(&self) -> Result<()> {
        let path = self.our_path();
        let mut attempt = 0;
        loop {
            match self
                .client
                .create(&path, b"", &CreateOptions::ephemeral())
                .await
            {
                Ok(_) | Err(Error::NodeExists { .. }) => return Ok(()),
                Err(Error::NoNode { .. }) if attempt < RETRIES_MAX => {
                    ensure_containers(&self.client, &self.path).await?;
                }
                Err(err) if is_transient(&err) && attempt < RETRIES_MAX => {
                    wait_connected(&self.client).await?;
                }
                Err(err) => return Err(err),
            }
            attempt += 1;
        }
    }

    /// Leaves and waits until every participant has left.
    pub async fn leave(&self) -> Result<()> {
        self.leave_until(None).await.map(|_| ())
    }

    /// As [`leave`](DoubleBarrier::leave); `false` if the others had not
    /// all left within `timeout`.
    pub async fn leave_timeout(&self, timeout: Duration) -> Result<bool> {
        self.leave_until(Some(Instant::now() + timeout)).await
    }

    async fn leave_until(&self, deadline: Option<Instant>) -> Result<bool> {
        let our_path = self.our_path();
        let mut ours_should_exist = true;
        loop {
            let mut children =
                match retrying(&self.client, || self.client.get_children(&self.path)).await {
                    Ok(children) => children,
                    Err(Error::NoNode { .. }) => Vec::new(),
                    Err(err) => return Err(err),
                };
            children.retain(|c| c != READY_NODE);
            children.sort();
            if children.is_empty() {
                break;
            }
            let ours = children.iter().position(|c| *c == self.our_name);
            if ours.is_none() && ours_should_exist {
                return Err(Error::NoNode { path: our_path });
            }
            if children.len() == 1 {
                if ours_should_exist {
                    delete_quietly(&self.client, &our_path).await?;
                }
                break;
            }
            let watched = if ours == Some(0) {
                join(&self.path, &children[children.len() - 1])
            } else {
                if ours_should_exist {
                    delete_quietly(&self.client, &our_path).await?;
                    ours_should_exist = false;
                }
                join(&self.path, &children[0])
            };
            let (stat, watcher) =
                retrying(&self.client, || self.client.exists_and_watch(&watched)).await?;
            if stat.is_none() {
                continue;
            }
            if !wait_for_watch(&self.client, watcher, deadline).await? {
                return Ok(false);
            }
        }
        delete_quietly(&self.client, &join(&self.path, READY_NODE)).await?;
        Ok(true)
    }
}
