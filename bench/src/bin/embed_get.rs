//! `embed_get`: what the embedding layer adds to a call. Runs sequential
//! `get`s of one node through the async core client (awaited on a
//! current-thread runtime, the caller's own) and through
//! `corral-embed` (a blocking wait on a plain thread, the request running
//! on the shared runtime), alternating rounds so that server noise hits
//! both alike, and prints the median and mean per call of each and the
//! difference. Figures only, no verdict: the machine is shared.
//!
//! `embed_get [host:port] [calls per round] [rounds]` (defaults
//! 127.0.0.1:2181, 2000, 5). The server must be running.

use std::time::{Duration, Instant};

use corral::client::{Client, CreateOptions};
use corral_embed::{Delivery, EmbeddedClient, Options};

const NODE: &str = "/corral-embed-bench";

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn mean(samples: &[Duration]) -> Duration {
    samples.iter().sum::<Duration>() / samples.len() as u32
}

fn main() {
    let mut args = std::env::args().skip(1);
    let connect = args.next().unwrap_or_else(|| "127.0.0.1:2181".into());
    let calls: usize = args.next().map_or(2000, |a| a.parse().expect("calls"));
    let rounds: usize = args.next().map_or(5, |a| a.parse().expect("rounds"));

    let own = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = own.block_on(async {
        let client = Client::connect(&connect).await.expect("connect");
        match client
            .create(NODE, b"value", &CreateOptions::persistent())
            .await
        {
            Ok(_) | Err(corral::Error::NodeExists { .. }) => {}
            Err(e) => panic!("create {NODE}: {e}"),
        }
        client
    });
    let embedded =
        EmbeddedClient::connect_blocking(Options::new(&connect), Delivery::Queue).expect("connect");

    let mut async_samples = Vec::with_capacity(calls * rounds);
    let mut embed_samples = Vec::with_capacity(calls * rounds);
    // One warm-up round of each, discarded.
    for round in 0..=rounds {
        let keep = round > 0;
        own.block_on(async {
            for _ in 0..calls {
                let start = Instant::now();
                client.get_data(NODE).await.expect("async get");
                if keep {
                    async_samples.push(start.elapsed());
                }
            }
        });
        for _ in 0..calls {
            let start = Instant::now();
            embedded.get_data(NODE).wait(None).expect("embedded get");
            if keep {
                embed_samples.push(start.elapsed());
            }
        }
    }
    let (async_mean, embed_mean) = (mean(&async_samples), mean(&embed_samples));
    let (async_median, embed_median) = (median(&mut async_samples), median(&mut embed_samples));
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!("sequential get of one node, {rounds} rounds x {calls} calls each, against {connect}");
    println!(
        "async core client (await on the caller's runtime): median {:.1} us, mean {:.1} us",
        micros(async_median),
        micros(async_mean)
    );
    println!(
        "corral-embed (blocking wait from a plain thread):   median {:.1} us, mean {:.1} us",
        micros(embed_median),
        micros(embed_mean)
    );
    println!(
        "embed overhead: median {:+.1} us, mean {:+.1} us per call",
        micros(embed_median) - micros(async_median),
        micros(embed_mean) - micros(async_mean)
    );
    embedded.close().wait(None).expect("close");
    own.block_on(async {
        let _ = client.delete(NODE, None).await;
        let _ = client.close().await;
    });
}
