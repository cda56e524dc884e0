//! `xfstore` command line: parse, run the command ([`cli`]), map errors to exit codes.
//!
//! Exit codes: 0 success, 1 a negative answer (not found, invalid file), 2 an error. A closed
//! output pipe (`xfstore query ... | head -1`) ends the process quietly with 0, as any Unix
//! filter does.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc for the whole process. Built with its `override` feature it also defines `malloc`/`free`,
/// which the dynamic linker then binds for RDKit and RocksDB too: RDKit's per-product molecule copies
/// spent about a quarter of ingest's CPU in glibc malloc; this cut CPU per product ~1.25x
/// (ARCHITECTURE.md, "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = cli::run(cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // what was printed before the error still reaches the reader
            let _ = out.flush();
            eprintln!("xfstore: error: {}", message(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each cause once: most of the library's errors already print their
/// source in their own message, so a cause whose text is already there is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

/// Whether the error comes from writing to a closed pipe (ripgrep's rule: a quiet exit).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
