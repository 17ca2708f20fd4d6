//! Every client operation, with its error codes, against a `corral-server`
//! and an Apache ZooKeeper process.

use std::time::Duration;

use corral::client::{CreateOptions, MultiOpResult, ReadOp, ReadResult};
use corral::proto::{Acl, CreateMode, ErrorCode, Id, Perms};
use corral::Error;
use corral_tests::{
    against_both, connect, connector, shared_connect_string, unique_root, ServerKind,
};

async fn create_get_set_delete(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "crud").await;
    let path = format!("{root}/node");

    let (created, stat) = client
        .create(&path, b"v0", &CreateOptions::persistent())
        .await
        .unwrap();
    assert_eq!(created, path);
    assert_eq!(
        (stat.version, stat.data_length, stat.ephemeral_owner),
        (0, 2, 0)
    );
    assert!(stat.czxid > 0 && stat.czxid == stat.mzxid);
    assert!(client.last_zxid() >= stat.czxid);

    let (data, read_stat) = client.get_data(&path).await.unwrap();
    assert_eq!((data.as_slice(), read_stat), (&b"v0"[..], stat));
    assert_eq!(client.exists(&path).await.unwrap(), Some(stat));

    let stat1 = client.set_data(&path, b"v1", Some(0)).await.unwrap();
    assert_eq!(stat1.version, 1);
    let stat2 = client.set_data(&path, b"", None).await.unwrap();
    assert_eq!((stat2.version, stat2.data_length), (2, 0));
    assert_eq!(
        client.set_data(&path, b"x", Some(0)).await,
        Err(Error::BadVersion { path: path.clone() })
    );

    assert_eq!(
        client.delete(&path, Some(1)).await,
        Err(Error::BadVersion { path: path.clone() })
    );
    client.delete(&path, Some(2)).await.unwrap();
    assert_eq!(client.exists(&path).await.unwrap(), None);
    client.close().await.unwrap();
}

async fn error_codes(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "errors").await;
    let missing = format!("{root}/missing");
    let no_node = Error::NoNode {
        path: missing.clone(),
    };
    assert_eq!(client.get_data(&missing).await, Err(no_node.clone()));
    assert_eq!(
        client.set_data(&missing, b"", None).await,
        Err(no_node.clone())
    );
    assert_eq!(client.delete(&missing, None).await, Err(no_node.clone()));
    assert_eq!(client.get_children(&missing).await, Err(no_node.clone()));
    assert_eq!(client.get_acl(&missing).await, Err(no_node.clone()));
    let orphan = format!("{missing}/child");
    assert_eq!(
        client
            .create(&orphan, b"", &CreateOptions::persistent())
            .await,
        Err(Error::NoNode {
            path: orphan.clone()
        })
    );

    let exists = client
        .create(&root, b"", &CreateOptions::persistent())
        .await
        .unwrap_err();
    assert_eq!(exists, Error::NodeExists { path: root.clone() });
    assert_eq!(exists.code(), ErrorCode::NodeExists);
    assert_eq!(exists.code().code(), -110);

    let parent = format!("{root}/parent");
    client
        .create(&parent, b"", &CreateOptions::persistent())
        .await
        .unwrap();
    client
        .create(&format!("{parent}/c"), b"", &CreateOptions::persistent())
        .await
        .unwrap();
    assert_eq!(
        client.delete(&parent, None).await,
        Err(Error::NotEmpty {
            path: parent.clone()
        })
    );

    let ephemeral = format!("{root}/eph");
    client
        .create(&ephemeral, b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let under = format!("{ephemeral}/c");
    assert_eq!(
        client
            .create(&under, b"", &CreateOptions::persistent())
            .await,
        Err(Error::NoChildrenForEphemerals { path: under })
    );

    // Paths are checked before sending, with ZooKeeper's rules.
    for bad in ["", "a", "/a/", "/a//b", "/a/./b", "/a/../b", "/a\u{0}b"] {
        let err = client.exists(bad).await.unwrap_err();
        assert!(matches!(err, Error::InvalidPath { .. }), "{bad:?}: {err:?}");
        assert_eq!(err.code(), ErrorCode::BadArguments);
    }
    // Sequential creates may end with a slash (ZooKeeper appends the suffix).
    let (seq, _) = client
        .create(
            &format!("{root}/"),
            b"",
            &CreateOptions::new(CreateMode::PersistentSequential),
        )
        .await
        .unwrap();
    assert_eq!(seq.len(), root.len() + 11, "{seq}");
    client.close().await.unwrap();
}

async fn create_modes(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let session_id = client.session().id;
    let root = unique_root(&client, "modes").await;

    let (eph, stat) = client
        .create(&format!("{root}/e"), b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, session_id);

    let seq = CreateOptions::new(CreateMode::PersistentSequential);
    let (s0, _) = client
        .create(&format!("{root}/s-"), b"", &seq)
        .await
        .unwrap();
    let (s1, _) = client
        .create(&format!("{root}/s-"), b"", &seq)
        .await
        .unwrap();
    assert!(
        s0.starts_with(&format!("{root}/s-")) && s0.len() == root.len() + 13,
        "{s0}"
    );
    assert!(s1 > s0, "{s1} after {s0}");

    let (es, stat) = client
        .create(
            &format!("{root}/es-"),
            b"",
            &CreateOptions::new(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, session_id);

    let (container, stat) = client
        .create(
            &format!("{root}/container"),
            b"c",
            &CreateOptions::new(CreateMode::Container),
        )
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(client.get_data(&container).await.unwrap().0, b"c");

    let ttl = CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::from_secs(60));
    let (ttl_node, stat) = client
        .create(&format!("{root}/ttl"), b"t", &ttl)
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "ttl nodes show no owner");
    assert!(client.exists(&ttl_node).await.unwrap().is_some());
    let ttl_seq = CreateOptions::new(CreateMode::PersistentSequentialWithTtl)
        .with_ttl(Duration::from_secs(60));
    let (ttl_seq_node, _) = client
        .create(&format!("{root}/ttl-"), b"", &ttl_seq)
        .await
        .unwrap();
    assert_eq!(ttl_seq_node.len(), root.len() + 15, "{ttl_seq_node}");

    // TTL arguments are checked before sending.
    assert!(matches!(
        client
            .create(
                &format!("{root}/x"),
                b"",
                &CreateOptions::new(CreateMode::PersistentWithTtl)
            )
            .await,
        Err(Error::BadArguments { .. })
    ));
    assert!(matches!(
        client
            .create(
                &format!("{root}/x"),
                b"",
                &CreateOptions::persistent().with_ttl(Duration::from_secs(1))
            )
            .await,
        Err(Error::BadArguments { .. })
    ));

    let mut ephemerals = client.get_ephemerals(&root).await.unwrap();
    ephemerals.sort();
    assert_eq!(ephemerals, vec![eph.clone(), es.clone()]);
    let mut children = client.get_children(&root).await.unwrap();
    children.sort();
    assert_eq!(children.len(), 7, "{children:?}");

    // Closing the session deletes its ephemerals, and only them.
    client.close().await.unwrap();
    let other = connect(&shared_connect_string(kind).await).await;
    assert_eq!(other.exists(&eph).await.unwrap(), None);
    assert_eq!(other.exists(&es).await.unwrap(), None);
    assert!(other.exists(&s0).await.unwrap().is_some());
    assert!(other.exists(&ttl_node).await.unwrap().is_some());
    other.close().await.unwrap();
}

async fn ensure_path(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "ensure").await;
    let deep = format!("{root}/a/b/c");
    client.ensure_path(&deep).await.unwrap();
    assert!(client.exists(&deep).await.unwrap().is_some());
    client.ensure_path(&deep).await.unwrap();
    client.ensure_path("/").await.unwrap();
    assert_eq!(client.get_all_children_number(&root).await.unwrap(), 3);
    assert!(matches!(
        client.ensure_path("/x/").await,
        Err(Error::InvalidPath { .. })
    ));
    client.close().await.unwrap();
}

async fn children_and_counts(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "children").await;
    for name in ["a", "b", "c"] {
        client
            .create(&format!("{root}/{name}"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
    }
    client
        .create(&format!("{root}/a/x"), b"", &CreateOptions::persistent())
        .await
        .unwrap();
    let mut children = client.get_children(&root).await.unwrap();
    children.sort();
    assert_eq!(children, ["a", "b", "c"]);
    let (mut children, stat) = client.get_children_with_stat(&root).await.unwrap();
    children.sort();
    assert_eq!(children, ["a", "b", "c"]);
    assert_eq!(stat.num_children, 3);
    assert_eq!(stat.cversion, 3);
    assert_eq!(client.get_all_children_number(&root).await.unwrap(), 4);
    assert_eq!(
        client
            .get_all_children_number(&format!("{root}/b"))
            .await
            .unwrap(),
        0
    );
    client.sync(&root).await.unwrap();
    client.close().await.unwrap();
}

async fn acl_and_auth(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let owner = connector(&connect_string)
        .auth("digest", b"alice:secret")
        .connect()
        .await
        .unwrap();
    let root = unique_root(&owner, "acl").await;

    // The creator ACL needs an authenticated identity.
    let anonymous = connect(&connect_string).await;
    let private = format!("{root}/private");
    assert_eq!(
        anonymous
            .create(
                &private,
                b"",
                &CreateOptions::persistent().with_acl(Acl::creator_all())
            )
            .await,
        Err(Error::InvalidAcl {
            path: private.clone()
        })
    );

    owner
        .create(
            &private,
            b"secret",
            &CreateOptions::persistent().with_acl(Acl::creator_all()),
        )
        .await
        .unwrap();
    let (acl, stat) = owner.get_acl(&private).await.unwrap();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].perms, Perms::ALL);
    assert_eq!(acl[0].id.scheme, "digest");
    assert!(acl[0].id.id.starts_with("alice:"), "{:?}", acl[0]);
    assert_eq!(stat.aversion, 0);
    assert_eq!(
        anonymous.get_data(&private).await,
        Err(Error::NoAuth {
            path: private.clone()
        })
    );

    // add_auth on a live session grants access.
    anonymous.add_auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(anonymous.get_data(&private).await.unwrap().0, b"secret");
    let who = anonymous.who_am_i().await.unwrap();
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "digest" && c.user == "alice"),
        "{who:?}"
    );
    assert!(who.iter().any(|c| c.auth_scheme == "ip"), "{who:?}");

    let open = format!("{root}/open");
    owner
        .create(&open, b"", &CreateOptions::persistent())
        .await
        .unwrap();
    let read_only = vec![Acl {
        perms: Perms::READ,
        id: Id::anyone(),
    }];
    assert_eq!(
        owner.set_acl(&open, &read_only, Some(5)).await,
        Err(Error::BadVersion { path: open.clone() })
    );
    let stat = owner.set_acl(&open, &read_only, Some(0)).await.unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(owner.get_acl(&open).await.unwrap().0, read_only);
    assert_eq!(
        owner.set_data(&open, b"x", None).await,
        Err(Error::NoAuth { path: open.clone() })
    );
    assert_eq!(
        owner.set_acl(&open, &[], None).await,
        Err(Error::InvalidAcl { path: open.clone() })
    );
    owner.close().await.unwrap();
    anonymous.close().await.unwrap();
}

async fn unknown_auth_scheme_fails_the_client(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let mut states = client.state_watcher();
    assert_eq!(
        client.add_auth("no-such-scheme", b"x").await,
        Err(Error::AuthFailed)
    );
    assert_eq!(
        corral_tests::within("auth failed state", async {
            loop {
                let s = states.changed().await;
                if s.is_terminal() {
                    return s;
                }
            }
        })
        .await,
        corral::client::SessionState::AuthFailed
    );
    assert_eq!(client.exists("/").await, Err(Error::AuthFailed));
}

async fn chroot(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let plain = connect(&connect_string).await;
    let root = unique_root(&plain, "chroot").await;
    let rooted = connect(&format!("{connect_string}{root}")).await;
    assert_eq!(rooted.chroot(), root);

    let (path, _) = rooted
        .create("/a", b"in", &CreateOptions::persistent())
        .await
        .unwrap();
    assert_eq!(path, "/a");
    assert_eq!(plain.get_data(&format!("{root}/a")).await.unwrap().0, b"in");
    assert_eq!(rooted.get_children("/").await.unwrap(), ["a"]);
    assert!(rooted.exists("/").await.unwrap().is_some());

    let (seq, _) = rooted
        .create(
            "/s-",
            b"",
            &CreateOptions::new(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    assert!(seq.starts_with("/s-"), "{seq}");
    assert_eq!(rooted.get_ephemerals("/").await.unwrap(), vec![seq.clone()]);
    assert_eq!(
        rooted.get_data("/missing").await,
        Err(Error::NoNode {
            path: "/missing".into()
        })
    );

    let results = rooted
        .multi()
        .create("/m", b"", &CreateOptions::persistent())
        .commit()
        .await
        .unwrap();
    assert!(matches!(&results[0], MultiOpResult::Create { path, .. } if path == "/m"));

    let (_, _, watcher) = rooted.get_and_watch_data("/a").await.unwrap();
    plain
        .set_data(&format!("{root}/a"), b"changed", None)
        .await
        .unwrap();
    let event = corral_tests::within("chroot event", watcher.changed()).await;
    assert_eq!(event.path, "/a");

    rooted.close().await.unwrap();
    plain.close().await.unwrap();
}

async fn multi(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "multi").await;
    let a = format!("{root}/a");
    let b = format!("{root}/b");
    client
        .create(&a, b"a0", &CreateOptions::persistent())
        .await
        .unwrap();

    let results = client
        .multi()
        .check(&a, 0)
        .create(&b, b"b0", &CreateOptions::persistent())
        .set_data(&a, b"a1", Some(0))
        .create(
            &format!("{root}/s-"),
            b"",
            &CreateOptions::new(CreateMode::PersistentSequential),
        )
        .create(
            &format!("{root}/c"),
            b"",
            &CreateOptions::new(CreateMode::Container),
        )
        .commit()
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0], MultiOpResult::Check);
    assert!(matches!(&results[1], MultiOpResult::Create { path, .. } if *path == b));
    assert!(matches!(&results[2], MultiOpResult::SetData { stat } if stat.version == 1));
    assert!(
        matches!(&results[3], MultiOpResult::Create { path, .. } if path.starts_with(&format!("{root}/s-")) && path.len() == root.len() + 13)
    );
    assert!(matches!(&results[4], MultiOpResult::Create { .. }));
    assert_eq!(client.get_data(&a).await.unwrap().0, b"a1");

    // A failing op rolls everything back and is reported with its index.
    let d = format!("{root}/d");
    let err = client
        .multi()
        .create(&d, b"", &CreateOptions::persistent())
        .set_data(&a, b"lost", Some(7))
        .delete(&b, None)
        .commit()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::MultiFailed {
            index: 1,
            source: Box::new(Error::BadVersion { path: a.clone() })
        }
    );
    assert_eq!(err.code(), ErrorCode::BadVersion);
    assert_eq!(client.exists(&d).await.unwrap(), None);
    assert!(client.exists(&b).await.unwrap().is_some());
    assert_eq!(client.get_data(&a).await.unwrap().0, b"a1");

    let err = client
        .multi()
        .delete(&b, None)
        .create(&a, b"", &CreateOptions::persistent())
        .commit()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::MultiFailed {
            index: 1,
            source: Box::new(Error::NodeExists { path: a.clone() })
        }
    );
    let err = client.multi().check(&d, 0).commit().await.unwrap_err();
    assert_eq!(
        err,
        Error::MultiFailed {
            index: 0,
            source: Box::new(Error::NoNode { path: d.clone() })
        }
    );

    // Argument errors are reported by commit, before sending.
    assert!(matches!(
        client.multi().delete("bad", None).commit().await,
        Err(Error::InvalidPath { .. })
    ));
    assert_eq!(client.multi().commit().await.unwrap(), vec![]);
    client.close().await.unwrap();
}

async fn multi_read(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "multiread").await;
    let a = format!("{root}/a");
    client
        .create(&a, b"data", &CreateOptions::persistent())
        .await
        .unwrap();
    let missing = format!("{root}/missing");
    let results = client
        .multi_read(&[
            ReadOp::get_data(&a),
            ReadOp::get_children(&root),
            ReadOp::get_data(&missing),
            ReadOp::get_children(&a),
        ])
        .await
        .unwrap();
    assert!(
        matches!(&results[0], Ok(ReadResult::Data { data, stat }) if data == b"data" && stat.data_length == 4)
    );
    assert_eq!(
        results[1],
        Ok(ReadResult::Children {
            children: vec!["a".into()]
        })
    );
    assert_eq!(results[2], Err(Error::NoNode { path: missing }));
    assert_eq!(results[3], Ok(ReadResult::Children { children: vec![] }));
    client.close().await.unwrap();
}

async fn pipelining_keeps_order(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "pipeline").await;
    let seq = CreateOptions::new(CreateMode::PersistentSequential);
    let prefix = format!("{root}/n-");
    // Many requests in flight at once; replies come back in request order,
    // so sequence numbers follow the order the calls were made in.
    let creates = (0..200).map(|_| client.create(&prefix, b"", &seq));
    let paths: Vec<String> = futures::future::join_all(creates)
        .await
        .into_iter()
        .map(|r| r.unwrap().0)
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(client.get_all_children_number(&root).await.unwrap(), 200);

    // Clones share the session.
    let clone = client.clone();
    assert_eq!(clone.session().id, client.session().id);
    let reads = (0..100).map(|_| clone.get_children(&root));
    for children in futures::future::join_all(reads).await {
        assert_eq!(children.unwrap().len(), 200);
    }
    client.close().await.unwrap();
    assert_eq!(clone.exists("/").await, Err(Error::ClientClosed));
}

async fn close_is_final(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let mut states = client.state_watcher();
    assert_eq!(states.current(), corral::client::SessionState::Connected);
    client.close().await.unwrap();
    assert_eq!(states.changed().await, corral::client::SessionState::Closed);
    assert_eq!(client.state(), corral::client::SessionState::Closed);
    assert_eq!(client.get_data("/").await, Err(Error::ClientClosed));
    // Closing again does nothing.
    client.close().await.unwrap();
}

against_both!(
    create_get_set_delete,
    error_codes,
    create_modes,
    children_and_counts,
    ensure_path,
    acl_and_auth,
    unknown_auth_scheme_fails_the_client,
    chroot,
    multi,
    multi_read,
    pipelining_keeps_order,
    close_is_final,
);
