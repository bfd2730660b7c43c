//! The `closedloop` command line: argument parsing, printing and exit codes
//! (0 ok, 1 runtime failure, 2 bad input or usage). All work is in the
//! library; the commands are in `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
