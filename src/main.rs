//! The `kindling` command: a thin layer that parses arguments, calls the library
//! and prints.

mod cli;

fn main() {
    std::process::exit(cli::run(std::env::args().skip(1).collect()));
}
