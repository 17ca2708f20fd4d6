//! [`SharedCount`]: a shared 32-bit counter on Curator's `SharedCount`
//! layout.

use crate::client::{Client, CreateOptions};
use crate::error::{Error, Result};

use super::protected::{
    ensure_containers, is_transient, parent_of, retrying, wait_connected, RETRIES_MAX,
};

/// A counter value and the data version it was read at, for
/// [`SharedCount::try_set`] (Curator's `VersionedValue<Integer>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionedValue {
    /// The count.
    pub value: i32,
    /// The node's data version when read.
    pub version: i32,
}

/// A shared counter interoperable with Apache Curator's `SharedCount`: the
/// node at `path` holds the count as a 4-byte big-endian `int`, and every
/// update is a compare-and-set on the node's data version.
///
/// [`add`](SharedCount::add) is an atomic increment in the manner of
/// Curator's `DistributedAtomicLong` (read, compare-and-set, retry on
/// conflict), on the `SharedCount` encoding; it wraps on overflow like a
/// Java `int`.
///
/// ```no_run
/// # async fn demo(client: corral::client::Client) -> Result<(), corral::Error> {
/// use corral::recipes::SharedCount;
/// let count = SharedCount::start(&client, "/counters/jobs", 0).await?;
/// let after = count.add(1).await?;
/// let current = count.get().await?;
/// assert!(current.value >= after);
/// if !count.try_set(current, 100).await? {
///     // someone changed it since `get`: read again
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SharedCount {
    client: Client,
    path: String,
}

/// The count encoded as Curator does (`ByteBuffer.putInt`: big-endian).
pub fn encode_count(value: i32) -> [u8; 4] {
    value.to_be_bytes()
}

/// The count decoded from a node's data.
pub fn decode_count(path: &str, data: &[u8]) -> Result<i32> {
    let bytes: [u8; 4] = data.try_into().map_err(|_| Error::BadArguments {
        reason: format!(
            "{path} holds {} bytes, not a 4-byte shared count",
            data.len()
        ),
    })?;
    Ok(i32::from_be_bytes(bytes))
}

impl SharedCount {
    /// A counter at `path`, created with `seed` (and container parents)
    /// if missing; an existing count is kept.
    pub async fn start(client: &Client, path: &str, seed: i32) -> Result<SharedCount> {
        let mut attempt = 0;
        loop {
            match client
                .create(path, &encode_count(seed), &CreateOptions::persistent())
                .await
            {
                Ok(_) | Err(Error::NodeExists { .. }) => break,
                Err(Error::NoNode { .. }) if attempt < RETRIES_MAX => {
                    ensure_containers(client, parent_of(path)).await?;
                }
                Err(err) if is_transient(&err) && attempt < RETRIES_MAX => {
                    wait_connected(client).await?;
                }
                Err(err) => return Err(err),
            }
            attempt += 1;
        }
        Ok(SharedCount {
            client: client.clone(),
            path: path.to_owned(),
        })
    }

    /// The counter's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The current count and its version.
    pub async fn get(&self) -> Result<VersionedValue> {
        let (data, stat) = retrying(&self.client, || self.client.get_data(&self.path)).await?;
        Ok(VersionedValue {
            value: decode_count(&self.path, &data)?,
            version: stat.version,
        })
    }

    /// Sets the count unconditionally.
    pub async fn set(&self, value: i32) -> Result<()> {
        let data = encode_count(value);
        retrying(&self.client, || {
            self.client.set_data(&self.path, &data, None)
        })
        .await
        .map(|_| ())
    }

    /// Sets the count to `value` if it has not changed since `previous`
    /// was read; `false` if it has (read again and retry).
    ///
    /// A connection loss is retried; if the first attempt was applied,
    /// the retry sees a new version and returns `false` although the value
    /// was set: compare with [`get`](SharedCount::get) when that matters.
    pub async fn try_set(&self, previous: VersionedValue, value: i32) -> Result<bool> {
        let data = encode_count(value);
        let result = retrying(&self.client, || {
            self.client
                .set_data(&self.path, &data, Some(previous.version))
        })
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(Error::BadVersion { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Adds `delta` atomically (compare-and-set until no conflict) and
    /// returns the new count.
    pub async fn add(&self, delta: i32) -> Result<i32> {
        loop {
            let current = self.get().await?;
            let next = current.value.wrapping_add(delta);
            let result = self
                .client
                .set_data(&self.path, &encode_count(next), Some(current.version))
                .await;
            match result {
                Ok(_) => return Ok(next),
                Err(Error::BadVersion { .. }) => {}
                // Unknown outcome: applying it twice would count twice, so
                // check whether the version moved exactly by our write.
                Err(err) if is_transient(&err) => {
                    wait_connected(&self.client).await?;
                    let (data, stat) =
                        retrying(&self.client, || self.client.get_data(&self.path)).await?;
                    if stat.version == current.version.wrapping_add(1)
                        && decode_count(&self.path, &data)? == next
                    {
                        // Most likely ours; another writer writing exactly
                        // `next` at this version is indistinguishable.
                        return Ok(next);
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Waits until the count changes from `known` (its version differs)
    /// and returns the new value.
    pub async fn changed(&self, known: VersionedValue) -> Result<VersionedValue> {
        loop {
            let (data, stat, watcher) =
                retrying(&self.client, || self.client.get_and_watch_data(&self.path)).await?;
            if stat.version != known.version {
                return Ok(VersionedValue {
                    value: decode_count(&self.path, &data)?,
                    version: stat.version,
                });
            }
            let event = watcher.changed().await;
            if event.event_type == crate::proto::EventType::None {
                return Err(super::protected::end_error(self.client.state()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_int_encoding() {
        assert_eq!(encode_count(1), [0, 0, 0, 1]);
        assert_eq!(encode_count(-2), [0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(decode_count("/c", &[0, 0, 1, 0]).unwrap(), 256);
        assert!(decode_count("/c", b"12").is_err());
    }
}
