//! `peerdrop completions SHELL` and `peerdrop man`: shell completion scripts and the manual
//! page, generated from the one clap definition in [`crate::args`] so they never drift from
//! what the CLI accepts.

use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;

use crate::args::Cli;
use crate::exit;

/// Writes the completion script for `shell` to stdout.
pub fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "peerdrop", &mut out);
    write_stdout(&out)
}

/// Writes the manual page (roff, section 1) to stdout, with an EXIT STATUS section listing the
/// documented exit codes.
pub fn print_man_page() -> ExitCode {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    let rendered = man
        .render_title(&mut out)
        .and_then(|()| man.render_name_section(&mut out))
        .and_then(|()| man.render_synopsis_section(&mut out))
        .and_then(|()| man.render_description_section(&mut out))
        .and_then(|()| man.render_options_section(&mut out))
        .and_then(|()| man.render_subcommands_section(&mut out))
        .and_then(|()| render_exit_status(&mut out))
        .and_then(|()| man.render_version_section(&mut out));
    if let Err(e) = rendered {
        eprintln!("peerdrop: cannot render the manual page: {e}");
        return ExitCode::FAILURE;
    }
    write_stdout(&out)
}

/// The EXIT STATUS section: every code [`crate::exit`] defines, with what it means.
fn render_exit_status(out: &mut Vec<u8>) -> std::io::Result<()> {
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (code, meaning) in exit::DOCUMENTED {
        writeln!(out, ".TP\n\\fB{code}\\fR\n{meaning}")?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peerdrop: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
