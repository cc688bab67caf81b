//! `server backup` in a shared folder: the name it writes to first must
//! never be one someone else planted.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use e2e::ServerProcess;

use crate::operator::server_cmd;

/// Regression (D1): `server backup FILE` opened `FILE.part` with
/// `O_CREAT|O_TRUNC`, following a symlink planted there: the archive (the
/// server's private key and database) overwrote the file it pointed to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_never_writes_through_a_symlink_at_its_temporary_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();

    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let archive = dir.path().join("backup.tar");
    let planted = dir.path().join("backup.tar.part");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();

    let (ok, out, err) = server_cmd(&data, &["backup", archive.to_str().unwrap()]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_link(&planted).unwrap(), victim);
    let meta = std::fs::symlink_metadata(&archive).unwrap();
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.nlink(), 1, "the temporary name is removed");
    // Nothing else is left beside it: the planted link, the victim, the
    // archive and the data folder.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);

    server.terminate_cleanly().await.unwrap();
}
