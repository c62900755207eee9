//! Ctrl-C (SIGINT), SIGTERM and SIGHUP during a backup or restore.
//!
//! The first signal cancels the running operation through its
//! [`CancelToken`], so it stops at a safe boundary and leaves what the next
//! run resumes from (a backup: no snapshot, the packs uploaded so far
//! indexed; a restore: stopped between packs, finished later with
//! `--overwrite if-changed`). Stopping cleanly can take a moment (packs in
//! flight finish), so a second signal exits at once, as users expect.
//!
//! Only `backup` and `restore` install the handler: every other command
//! keeps the default behaviour (the first Ctrl-C ends it).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use cairn::CancelToken;

/// The exit code after an interruption (the shell's 128 + SIGINT).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Installs the handler for this process and returns the token it cancels.
/// `what` names the operation in the message printed on the first signal.
pub(crate) fn install(what: &'static str) -> Result<CancelToken> {
    let token = CancelToken::new();
    let signals = Arc::new(AtomicU32::new(0));
    let t = token.clone();
    ctrlc::set_handler(move || {
        // The handler runs on ctrlc's own thread, not in signal context, so
        // printing and exiting here are safe.
        if signals.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!(
                "\ninterrupted: stopping the {what} cleanly (press Ctrl-C again to exit at once)"
            );
            t.cancel();
        } else {
            eprintln!("interrupted again: exiting now");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
    .context("installing the Ctrl-C handler")?;
    Ok(token)
}
