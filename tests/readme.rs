//! The README's library example is `examples/readme.rs` (which `cargo test`
//! compiles), word for word.

#[test]
fn readme_library_example_is_the_compiled_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let example = std::fs::read_to_string(format!("{root}/examples/readme.rs")).unwrap();
    let body = example
        .split_once("// README: begin\n")
        .and_then(|(_, rest)| rest.split_once("// README: end"))
        .map(|(body, _)| body.trim())
        .expect("markers in examples/readme.rs");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let section = readme
        .split_once("## The library")
        .map(|(_, rest)| rest)
        .expect("a library section");
    let block = section
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block.trim())
        .expect("a rust block in the library section");
    assert_eq!(
        block, body,
        "README.md's library example differs from examples/readme.rs"
    );
}
