//! `--pre-hook`/`--post-hook` of `backup` and `--post-hook` of `restore`:
//! shell commands run around the operation (freeze a database before a
//! backup, thaw it after; validate what a restore wrote). Library users do
//! this in their own code around `backup`/`restore`; these are the CLI's.
//!
//! Each hook runs as `sh -c COMMAND` with the caller's environment, less the
//! passwords, plus `CAIRN_HOOK` (`pre-backup`, `post-backup`,
//! `post-restore`) and variables describing the operation and its result
//! (see the options' help). A pre-backup hook that fails aborts the backup;
//! the post-backup hook runs whenever the pre-hook succeeded — also after a
//! failed or interrupted backup, so a thaw always follows a freeze — with
//! `CAIRN_RESULT` saying how it went. A failing post hook makes the command
//! fail.

use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use clap::Args;

/// Hook options of `backup`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct BackupHooks {
    /// Run this shell command before the backup; if it fails the backup does
    /// not start. Environment: CAIRN_HOOK=pre-backup, CAIRN_PATHS (one per
    /// line), CAIRN_TAGS (one per line), CAIRN_DRY_RUN (0/1).
    #[arg(long, value_name = "COMMAND")]
    pub(crate) pre_hook: Option<String>,
    /// Run this shell command after the backup (also a failed or interrupted
    /// one). Environment: as --pre-hook, plus CAIRN_RESULT
    /// (success|warnings|failed|interrupted), CAIRN_SNAPSHOT_ID, CAIRN_ERROR,
    /// CAIRN_FILES_NEW, CAIRN_FILES_CHANGED, CAIRN_FILES_UNCHANGED,
    /// CAIRN_DATA_ADDED (bytes).
    #[arg(long, value_name = "COMMAND")]
    pub(crate) post_hook: Option<String>,
}

/// Hook options of `restore`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RestoreHooks {
    /// Run this shell command after the restore (also a failed or
    /// interrupted one), e.g. to validate what was restored; if it fails,
    /// so does the restore command. Environment: CAIRN_HOOK=post-restore,
    /// CAIRN_RESULT (success|failed|interrupted), CAIRN_SNAPSHOT_ID,
    /// CAIRN_TARGET, CAIRN_ERROR, CAIRN_FILES_RESTORED, CAIRN_BYTES_RESTORED.
    #[arg(long = "post-hook", value_name = "COMMAND")]
    pub(crate) post_hook: Option<String>,
}

/// Variables passed to a hook: (name, value).
pub(crate) type Vars = Vec<(&'static str, String)>;

/// Runs `command` as hook `name`; an error says how it failed.
pub(crate) fn run(command: &str, name: &str, vars: &Vars) -> Result<()> {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command).env("CAIRN_HOOK", name);
    // A hook is someone's script: it gets no secret it did not ask for.
    for secret in [
        "CAIRN_PASSWORD",
        "CAIRN_NEW_PASSWORD",
        "CAIRN_FROM_PASSWORD",
    ] {
        c.env_remove(secret);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    let status = c
        .status()
        .with_context(|| format!("starting the {name} hook {command:?}"))?;
    if !status.success() {
        bail!("the {name} hook {command:?} failed ({status})");
    }
    Ok(())
}

/// `CAIRN_RESULT` for an exit code and error.
pub(crate) fn result_name(r: &Result<ExitCode>) -> &'static str {
    match r {
        Ok(c) if *c == ExitCode::SUCCESS => "success",
        Ok(c) if *c == ExitCode::from(crate::interrupt::EXIT_INTERRUPTED) => "interrupted",
        Ok(_) => "warnings",
        Err(_) => "failed",
    }
}

/// Runs the post hook `command` (if any) after an operation that ended
/// with `outcome`, and folds its failure into the command's result: the
/// operation's own error wins; otherwise a failing hook is the error.
pub(crate) fn after(
    command: Option<&str>,
    name: &str,
    outcome: Result<ExitCode>,
    mut vars: Vars,
) -> Result<ExitCode> {
    let Some(command) = command else {
        return outcome;
    };
    vars.push(("CAIRN_RESULT", result_name(&outcome).to_owned()));
    if let Err(e) = &outcome {
        vars.push(("CAIRN_ERROR", format!("{e:#}")));
    }
    let hooked = run(command, name, &vars);
    match (outcome, hooked) {
        (Err(e), Err(h)) => {
            eprintln!("error: {h:#}");
            Err(e)
        }
        (Err(e), Ok(())) => Err(e),
        (Ok(_), Err(h)) => Err(h),
        (Ok(code), Ok(())) => Ok(code),
    }
}
