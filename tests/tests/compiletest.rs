//! Compile-fail snapshots of every diagnostic of the derive, and shapes that
//! must keep compiling.

// `.stderr` text changes between compiler releases: the snapshots are
// recorded with rustc 1.95 and checked on that release only.
#[rustversion::attr(
    not(stable(1.95)),
    ignore = "ui snapshots are recorded with rustc 1.95"
)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/pass/*.rs");
}
