//! `peerdrop completions SHELL` and `peerdrop man` produce what the real shells and `groff`
//! accept, and what they complete is the CLI's real vocabulary.

mod common;

use common::peerdrop_bin;
use std::process::{Command, Output};

fn peerdrop(args: &[&str]) -> Output {
    let output = Command::new(peerdrop_bin()).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "peerdrop {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn run_shell(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is missing ({e}): run scripts/deps.sh");
        });
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn script(shell: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), peerdrop(&["completions", shell]).stdout).unwrap();
    file
}

#[test]
fn bash_completes_subcommands_and_their_options() {
    let file = script("bash");
    let path = file.path().display().to_string();
    let complete = |words: &str, cword: usize| {
        run_shell(
            "bash",
            &[
                "-c",
                &format!(
                    "source {path}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                     _peerdrop peerdrop \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
                     printf '%s\\n' \"${{COMPREPLY[@]}}\""
                ),
            ],
        )
    };
    assert_eq!(complete("peerdrop rec", 1).trim(), "receive");
    let send = complete("peerdrop send --", 2);
    for option in ["--server", "--to", "--json", "--accept-changed-identity"] {
        assert!(send.lines().any(|l| l == option), "{option} in {send}");
    }
}

#[test]
fn zsh_parses_its_completion_script() {
    let file = script("zsh");
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert!(text.starts_with("#compdef peerdrop"), "{text:.80}");
    run_shell("zsh", &["-n", &file.path().display().to_string()]);
}

#[test]
fn fish_completes_subcommands() {
    let file = script("fish");
    let path = file.path().display().to_string();
    run_shell("fish", &["-n", &path]);
    let completed = run_shell(
        "fish",
        &["-c", &format!("source {path}; complete -C 'peerdrop pe'")],
    );
    assert!(completed.starts_with("peers\t"), "{completed}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let output = Command::new(peerdrop_bin())
        .args(["completions", "cmd.exe"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_manual_page_renders_cleanly_and_lists_every_exit_code() {
    let page = peerdrop(&["man"]).stdout;
    let mut groff = Command::new("groff")
        // -P -cbou: plain text, no bold or underline by overstriking.
        .args(["-man", "-Tutf8", "-ww", "-P", "-cbou"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("groff: run scripts/deps.sh");
    use std::io::Write;
    groff.stdin.take().unwrap().write_all(&page).unwrap();
    let rendered = groff.wait_with_output().unwrap();
    assert!(rendered.status.success());
    assert!(
        rendered.stderr.is_empty(),
        "groff warnings: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let text = String::from_utf8_lossy(&rendered.stdout);
    for needle in ["receive", "send", "peers", "completions", "EXIT STATUS"] {
        assert!(text.contains(needle), "{needle} in the manual page");
    }
    let exit_status = text.split("EXIT STATUS").nth(1).unwrap();
    for code in 0..=7 {
        assert!(
            exit_status
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{code} "))),
            "exit code {code} listed: {exit_status}"
        );
    }
}
