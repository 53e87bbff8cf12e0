//! The `wedock` binary: parse arguments, hand over to [`wedock::cli`].

fn main() -> std::process::ExitCode {
    wedock::cli::main()
}
