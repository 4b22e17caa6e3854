//! The `kindling` command: a thin layer that parses arguments, calls the library
//! and prints.

mod cli;

fn main() {
    // Like other Unix tools, stop quietly when the reader of our output goes away
    // (`kindling lecture | head`) instead of failing to print.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::run(std::env::args().skip(1).collect()));
}

// The command's own readers are fuzzed in its unit tests (`cli::train::fuzz`),
// which measure memory through this allocator (NOTE(fuzzing)).
#[cfg(test)]
#[global_allocator]
static ALLOC: kindling::testing::fuzz::CountingAlloc = kindling::testing::fuzz::CountingAlloc;
