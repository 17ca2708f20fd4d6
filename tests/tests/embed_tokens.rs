//! Session tokens against a real `corral-server`: a session exported as
//! text resumes on another connection with its ephemerals, and the last
//! zxid in the token is honoured (a server that has not reached it
//! refuses the connection).

use std::time::Duration;

use corral::client::CreateOptions;
use corral_embed::{Delivery, EmbeddedClient, Error, Options, SessionToken};
use corral_tests::{shared_server, unique_name, ServerKind, ServerProcess, WAIT};

fn options() -> Options {
    options_for(&shared_server(ServerKind::Corral).connect_string())
}

fn options_for(connect_string: &str) -> Options {
    Options {
        session_timeout: Some(Duration::from_secs(10)),
        request_timeout: Some(Duration::from_secs(10)),
        connect_timeout: Some(WAIT),
        ..Options::new(connect_string)
    }
}

fn connect(options: Options) -> EmbeddedClient {
    EmbeddedClient::connect_blocking(options, Delivery::Queue).expect("connect")
}

#[test]
fn a_token_resumes_the_session_on_another_connection() {
    let exporter = connect(options());
    let node = format!("/{}", unique_name("embed-token"));
    let (node, _) = exporter
        .create(&node, b"mine", CreateOptions::ephemeral())
        .wait(Some(WAIT))
        .unwrap();
    let token = exporter.session_token().unwrap();
    let text = token.to_string();
    assert!(text.starts_with("v1:"), "{text}");
    assert!(token.last_zxid > 0);
    // Hand over: the exporter lets go of the connection without closing
    // the session (closing would delete its ephemerals).
    exporter
        .call(|c| async move {
            c.detach().await;
            Ok(())
        })
        .wait(Some(WAIT))
        .unwrap();
    drop(exporter);

    let parsed: SessionToken = text.parse().unwrap();
    assert_eq!(parsed, token);
    let resumed = connect(Options {
        resume: Some(parsed),
        ..options()
    });
    let again = resumed.session_token().unwrap();
    assert_eq!(again.session_id, token.session_id);
    assert!(
        again.last_zxid >= token.last_zxid,
        "never behind the exporter"
    );
    // The session's ephemeral is still there, owned by it.
    let (data, stat) = resumed.get_data(&node).wait(Some(WAIT)).unwrap();
    assert_eq!(
        (data.as_slice(), stat.ephemeral_owner),
        (&b"mine"[..], token.session_id)
    );
    // Closing the resumed session deletes it.
    resumed.close().wait(Some(WAIT)).unwrap();
    let observer = connect(options());
    assert_eq!(observer.exists(&node).wait(Some(WAIT)).unwrap(), None);
    observer.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn a_server_behind_the_tokens_last_zxid_refuses_it() {
    // A server of its own: no other test may move its zxid meanwhile.
    let server = ServerProcess::start(ServerKind::Corral);
    let options = || options_for(&server.connect_string());
    let exporter = connect(options());
    let root = format!("/{}", unique_name("embed-token-zxid"));
    exporter
        .create(&root, b"", CreateOptions::persistent())
        .wait(Some(WAIT))
        .unwrap();
    let mut token = exporter.session_token().unwrap();
    exporter
        .call(|c| async move {
            c.detach().await;
            Ok(())
        })
        .wait(Some(WAIT))
        .unwrap();
    drop(exporter);
    // Pretend the exporter had seen 3 transactions the server has not
    // applied yet (as a lagging follower would not have).
    token.last_zxid += 3;
    let attempt = |token: &SessionToken| {
        EmbeddedClient::connect_blocking(
            Options {
                resume: Some(token.clone()),
                connect_timeout: Some(Duration::from_secs(2)),
                ..options()
            },
            Delivery::Queue,
        )
    };
    match attempt(&token) {
        Err(Error::Client(corral::Error::Timeout)) => {}
        Ok(_) => panic!("a server behind the token's zxid accepted it"),
        Err(other) => panic!("unexpected {other}"),
    }
    // Once the server has applied that far, the same token is accepted.
    let writer = connect(options());
    for i in 0..3 {
        writer
            .create(&format!("{root}/w{i}"), b"", CreateOptions::persistent())
            .wait(Some(WAIT))
            .unwrap();
    }
    writer.close().wait(Some(WAIT)).unwrap();
    let resumed = attempt(&token).expect("the server caught up");
    assert_eq!(
        resumed.session_token().unwrap().session_id,
        token.session_id
    );
    // It reads state at least as new as the token says.
    assert_eq!(
        resumed.get_children(&root).wait(Some(WAIT)).unwrap().len(),
        3
    );
    resumed.close().wait(Some(WAIT)).unwrap();
}
